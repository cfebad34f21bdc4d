/// The dashboard's one stylesheet and one script, served from the binary (no CDN, no network).
enum DashboardAssets {
    /// A small hearth flame for the browser tab.
    static let icon = """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1d2330"/><path d="M16 5c1 5 7 8 7 14a7 7 0 0 1-14 0c0-4 3-6 3-9 2 2 2 4 2 5 1-2 3-5 2-10z" fill="#f0a53a"/></svg>
        """

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
        code { font: .9rem ui-monospace, SFMono-Regular, Menlo, monospace; background: #eef0f4; padding: 0 .25rem; border-radius: 4px;
          overflow-wrap: anywhere; }
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
        .paging { display: flex; gap: 1rem; align-items: center; margin: 1rem 0; }
        .hidden-label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        .chat { display: grid; grid-template-columns: 14rem 1fr; gap: 1.25rem; }
        .sessions ul { list-style: none; padding: 0; margin: 0; }
        .sessions li { margin: .35rem 0; overflow-wrap: anywhere; }
        .sessions a[aria-current="page"] { font-weight: 700; }
        .turns { list-style: none; padding: 0; }
        .turn { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5rem .8rem; margin: .5rem 0; }
        .turn p { margin: .25rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
        .turn-user { border-left: 4px solid var(--accent); }
        .turn-agent { border-left: 4px solid var(--ok); }
        .who { font-weight: 600; }
        .hits, .pending { list-style: none; padding: 0; }
        .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .75rem; margin: 1rem 0; }
        .figures div { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; }
        .figures dt { color: var(--muted); font-size: .85rem; }
        .figures dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
        svg.chart { width: 100%; height: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
        svg.chart text { font-size: 14px; fill: var(--muted); }
        svg .bar { fill: var(--accent); } svg .track { fill: var(--line); }
        .budget svg { width: 100%; height: 10px; }
        .waterfall td.lane, .waterfall th.lane { width: 40%; min-width: 8rem; }
        .waterfall td:first-child { white-space: nowrap; }
        .waterfall svg { width: 100%; height: 12px; background: #eef0f4; }
        .span-model { fill: var(--accent); } .span-tool { fill: var(--ok); } .span-policy { fill: var(--warn); }
        .span-state, .span-repair, .span-budget { fill: var(--muted); }
        .tag.kind-model { color: var(--accent); } .tag.kind-tool { color: var(--ok); } .tag.kind-policy { color: var(--warn); }
        .health dt { font-weight: 600; margin-top: .5rem; }
        .health dd { margin: 0; overflow-wrap: anywhere; }
        .health-ok { color: var(--ok); } .health-warning { color: var(--bad); } .health-off { color: var(--muted); }
        @media (max-width: 720px) { .chat { grid-template-columns: 1fr; } }
        @media (max-width: 480px) { body { font-size: 15px; } main { padding: .75rem; } .top { padding: .6rem .75rem; } }
        """

    /// Live inbox: new interruptions arrive over server-sent events and are added as text (never
    /// as markup). Chat: the form posts with `Accept: text/event-stream` and the answer streams
    /// into the conversation, again as text.
    static let script = """
        "use strict";
        function hearthTurn(list, who, role, text) {
          const row = document.createElement("li");
          row.className = "turn turn-" + role;
          const name = document.createElement("span");
          name.className = "who";
          name.textContent = who;
          const body = document.createElement("p");
          body.textContent = text;
          row.append(name, body);
          list.append(row);
          const empty = document.getElementById("turns-empty");
          if (empty) empty.remove();
          return body;
        }
        async function hearthSend(form) {
          const list = document.getElementById("turns");
          const input = form.elements.message;
          const fields = new URLSearchParams(new FormData(form));
          hearthTurn(list, "you", "user", input.value);
          const answer = hearthTurn(list, "hearth", "agent", "…");
          input.value = "";
          form.elements.send.disabled = true;
          try {
            const response = await fetch(form.action, { method: "POST", body: fields, headers: { "Accept": "text/event-stream" } });
            if (!response.ok || !response.body) {
              const page = new DOMParser().parseFromString(await response.text(), "text/html");
              const said = page.querySelector(".message");
              answer.textContent = said ? said.textContent : "The daemon answered " + response.status + ".";
              answer.parentElement.classList.add("error");
              return;
            }
            const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
            let buffer = "", streamed = "";
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              buffer += value;
              let cut;
              while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
                const block = buffer.slice(0, cut);
                buffer = buffer.slice(cut + 2);
                const kind = (block.match(/^event: (.*)$/m) || [])[1];
                const data = (block.match(/^data: (.*)$/m) || [])[1];
                if (!data) continue;
                const value = JSON.parse(data);
                if (kind === "text") {
                  streamed += value;
                  answer.textContent = streamed;
                } else if (kind === "done") {
                  answer.textContent = value.error && !value.answer ? value.error : value.answer;
                  if (value.error) answer.parentElement.classList.add("error");
                  if (value.note) hearthTurn(list, "note", "agent", value.note);
                  if (value.session) {
                    form.elements.session.value = value.session;
                    history.replaceState(null, "", "/chat/" + encodeURIComponent(value.session));
                  }
                }
              }
            }
          } catch (error) {
            answer.textContent = "The connection to the daemon broke: " + error;
          } finally {
            form.elements.send.disabled = false;
            input.focus();
          }
        }
        document.addEventListener("DOMContentLoaded", () => {
          const chat = document.getElementById("chat-form");
          if (chat && window.fetch && window.TextDecoderStream) {
            chat.addEventListener("submit", (event) => { event.preventDefault(); hearthSend(chat); });
          }
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
