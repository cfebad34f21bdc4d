import HearthCore
import Testing

@Suite("JSON Schema validation", .timeLimit(.minutes(10)))
struct JSONSchemaTests {
    let schema: JSONValue = [
        "type": "object",
        "properties": [
            "name": ["type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]+$"],
            "count": ["type": "integer", "minimum": 0, "maximum": 10],
            "ratio": ["type": "number", "exclusiveMaximum": 1],
            "tags": ["type": "array", "items": ["type": "string"], "maxItems": 2],
            "mode": ["enum": ["fast", "slow"]],
            "nested": ["$ref": "#/$defs/point"],
        ],
        "required": ["name"],
        "additionalProperties": false,
        "$defs": ["point": ["type": "object", "properties": ["x": ["type": "number"]], "required": ["x"]]],
    ]

    @Test("a valid value has no errors")
    func valid() {
        #expect(
            JSONSchema.validate(
                ["name": "abc", "count": 3, "ratio": 0.5, "tags": ["a"], "mode": "fast", "nested": ["x": 1]], against: schema
            ).isEmpty)
    }

    @Test(
        "each violation is reported with its path",
        arguments: [
            (JSONValue.object(["count": 1]), "$: missing required property \"name\""),
            (["name": 7], "$.name: expected string, found number 7"),
            (["name": "ABC"], "$.name: string \"ABC\" does not match the pattern ^[a-z]+$"),
            (["name": "abcdefg"], "$.name: allows at most 5 characters, found 7"),
            (["name": "a", "count": 2.5], "$.count: expected integer, found number 2.5"),
            (["name": "a", "count": 11], "$.count: 11 is more than the maximum 10"),
            (["name": "a", "ratio": 1], "$.ratio: 1 must be less than 1"),
            (["name": "a", "tags": ["x", 2]], "$.tags[1]: expected string, found number 2"),
            (["name": "a", "tags": ["x", "y", "z"]], "$.tags: allows at most 2 items, found 3"),
            (["name": "a", "mode": "medium"], "$.mode: string \"medium\" is not one of \"fast\", \"slow\""),
            (["name": "a", "nested": ["y": 1]], "$.nested: missing required property \"x\""),
            (["name": "a", "color": "red"], "$: unexpected property \"color\""),
        ] as [(JSONValue, String)])
    func violations(value: JSONValue, expected: String) {
        let errors = JSONSchema.validate(value, against: schema)
        #expect(errors.contains { $0.hasPrefix(expected) }, "\(errors)")
    }

    @Test("oneOf needs exactly one match; anyOf at least one; const pins a value")
    func combinators() {
        let choice: JSONValue = [
            "oneOf": [
                ["properties": ["tool": ["const": "a"]], "required": ["tool"]],
                ["properties": ["tool": ["const": "b"]], "required": ["tool"]],
            ]
        ]
        #expect(JSONSchema.validate(["tool": "a"], against: choice).isEmpty)
        #expect(JSONSchema.validate(["tool": "c"], against: choice).first?.contains("matches none of the 2 oneOf options") == true)
        let overlapping: JSONValue = ["oneOf": [["type": "number"], ["type": "integer"]]]
        #expect(JSONSchema.validate(3, against: overlapping) == ["$: matches 2 oneOf options; exactly one is allowed"])
        #expect(JSONSchema.validate("x", against: ["anyOf": [["type": "string"], ["type": "number"]]]).isEmpty)
        #expect(JSONSchema.validate(false, against: .bool(false)) == ["$: no value is allowed here"])
    }
}
