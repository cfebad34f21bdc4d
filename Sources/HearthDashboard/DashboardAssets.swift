/// The dashboard's one stylesheet and one script, served from the binary (no CDN, no network).
enum DashboardAssets {
    static let stylesheet = """
        :root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; --card: #fff; --accent: #2d5bd7;
          --ok: #1f7a3d; --warn: #9a5b00; --bad: #b3261e; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
        .top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .75rem 1.25rem; background: var(--card);
          border-bottom: 1px solid var(--line); }
        .brand { font-weight: 700; color: var(--ink); text-decoration: none; }
        nav { display: flex; gap: 1rem; flex-wrap: wrap; }
        nav a { color: var(--muted); text-decoration: none; padding: .25rem 0; }
        nav a[aria-current="page"] { color: var(--ink); border-bottom: 2px solid var(--accent); }
        .logout { margin-left: auto; }
        main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
        h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
        a { color: var(--accent); }
        a:focus-visible, button:focus-visible, input:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        button { font: inherit; padding: .4rem .9rem; border: 1px solid var(--line); border-radius: 6px; background: var(--card); cursor: pointer; }
        button.approve { background: var(--ok); border-color: var(--ok); color: #fff; }
        button.deny { background: var(--bad); border-color: var(--bad); color: #fff; }
        input { font: inherit; padding: .4rem .5rem; border: 1px solid var(--line); border-radius: 6px; max-width: 100%; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin: 1rem 0; }
        .meta, time { color: var(--muted); font-size: .9rem; }
        .empty, .message { color: var(--muted); }
        .flash { background: #e8f3ec; border: 1px solid var(--ok); border-radius: 6px; padding: .5rem .75rem; }
        .warn { color: var(--warn); }
        .error { color: var(--bad); }
        .tag { display: inline-block; font-size: .8rem; padding: 0 .45rem; border-radius: 999px; border: 1px solid currentColor; }
        .tag.level-interrupt { color: var(--bad); } .tag.level-digest { color: var(--warn); } .tag.level-ignore { color: var(--muted); }
        .state { font-weight: 600; }
        .state-succeeded { color: var(--ok); } .state-failed, .state-needsReview { color: var(--bad); }
        .state-awaitingApproval { color: var(--warn); } .state-running, .state-pending { color: var(--accent); }
        .arguments dt { font-weight: 600; margin-top: .5rem; }
        .arguments dd { margin: 0; overflow-wrap: anywhere; }
        .arguments dd.untrusted code { background: #fff4e0; outline: 1px solid var(--warn); }
        code { font: .9rem ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef0f4; padding: 0 .25rem; border-radius: 4px; }
        .actions { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin-top: .75rem; }
        .actions form.deny { display: flex; flex-wrap: wrap; gap: .5rem; align-items: end; }
        .inbox { list-style: none; padding: 0; }
        .inbox li { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; margin: .5rem 0; }
        .inbox form { display: inline; margin-left: .5rem; }
        .start { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-bottom: 1rem; }
        .start input { flex: 1 1 16rem; }
        .table { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; background: var(--card); }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        .plan, .calls { padding-left: 1.1rem; }
        .report { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5rem 1.25rem; overflow-wrap: anywhere; }
        @media (max-width: 480px) { body { font-size: 15px; } main { padding: .75rem; } .top { padding: .6rem .75rem; } }
        """

    /// Live inbox: new interruptions arrive over server-sent events and are added as text (never as markup).
    static let script = """
        "use strict";
        document.addEventListener("DOMContentLoaded", () => {
          const list = document.getElementById("inbox");
          if (!list || !window.EventSource) return;
          const source = new EventSource(list.dataset.live);
          source.addEventListener("interrupt", (message) => {
            const item = JSON.parse(message.data);
            const row = document.createElement("li");
            row.className = "item";
            const tag = document.createElement("span");
            tag.className = "tag level-" + String(item.level).replace(/[^a-z]/g, "");
            tag.textContent = item.level;
            const text = document.createElement("span");
            text.className = "text";
            text.textContent = " " + item.text + " ";
            const time = document.createElement("time");
            time.textContent = String(item.at).slice(0, 16).replace("T", " ");
            row.append(tag, text, time);
            list.prepend(row);
            const empty = document.getElementById("inbox-empty");
            if (empty) empty.remove();
          });
        });
        """
}
