"""TOML oracle: Python's tomllib (TOML 1.0, standard library since 3.11) judges Hearth's parser.

Reads JSON lines {"doc": TEXT, "ours": TAGGED | null, "error": TEXT | null, "valid": BOOL} on stdin,
where TAGGED is Hearth's parse as {"type": T, "value": V} leaves inside plain objects and arrays.
Prints one JSON line per disagreement, then a summary line {"checked": N}.
"""
import json
import math
import sys
import tomllib


def normal_datetime(text):
    """A date-time's value, read by tomllib itself, so both sides compare the same way."""
    return tomllib.loads("x = " + text)["x"]


def tag(value):
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "integer", "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, dict):
        return {key: tag(item) for key, item in value.items()}
    if isinstance(value, list):
        return [tag(item) for item in value]
    return {"type": "datetime", "value": value}


def ours_to_python(node):
    if isinstance(node, list):
        return [ours_to_python(item) for item in node]
    if set(node.keys()) == {"type", "value"} and isinstance(node["type"], str) and not isinstance(node["value"], dict):
        kind, value = node["type"], node["value"]
        if kind == "integer":
            return {"type": "integer", "value": int(value)}
        if kind == "float":
            return {"type": "float", "value": float(value)}
        if kind == "datetime":
            return {"type": "datetime", "value": normal_datetime(value)}
        return {"type": kind, "value": value}
    return {key: ours_to_python(item) for key, item in node.items()}


def same(a, b):
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a.keys()) == {"type", "value"} and set(b.keys()) == {"type", "value"} and a["type"] == b["type"] == "float":
            x, y = a["value"], b["value"]
            if math.isnan(x) or math.isnan(y):
                return math.isnan(x) and math.isnan(y)
            return x == y and math.copysign(1, x) == math.copysign(1, y)
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    return type(a) == type(b) and a == b


checked = 0
for line in sys.stdin:
    case = json.loads(line)
    checked += 1
    try:
        theirs = tag(tomllib.loads(case["doc"]))
        their_error = None
    except tomllib.TOMLDecodeError as error:
        theirs, their_error = None, str(error)
    if case["valid"] and theirs is None:
        print(json.dumps({"doc": case["doc"], "problem": "the generator wrote invalid TOML", "tomllib": their_error}))
    elif not case["valid"] and theirs is not None:
        print(json.dumps({"doc": case["doc"], "problem": "tomllib accepts a document the corpus calls invalid"}))
    elif case["ours"] is None and theirs is not None:
        print(json.dumps({"doc": case["doc"], "problem": "Hearth rejects valid TOML", "hearth": case["error"]}))
    elif case["ours"] is not None and theirs is None:
        print(json.dumps({"doc": case["doc"], "problem": "Hearth accepts invalid TOML", "tomllib": their_error}))
    elif theirs is not None and not same(ours_to_python(case["ours"]), theirs):
        print(json.dumps({"doc": case["doc"], "problem": "values differ", "hearth": case["ours"], "tomllib": repr(theirs)}, default=str))
print(json.dumps({"checked": checked}))
