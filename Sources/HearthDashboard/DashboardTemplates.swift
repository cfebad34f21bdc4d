/// The dashboard's pages as Mustache templates. `{{value}}` is escaped; `{{{content}}}` (the
/// only unescaped slot besides the sanitised report) holds a page this module rendered.
enum DashboardTemplates {
    static let all: [String: String] = [
        "layout": layout, "message": message, "home": home, "approvals": approvals, "goals": goals, "goal": goal,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Hearth</title>
        <link rel="stylesheet" href="/static/dashboard.css">
        <script src="/static/dashboard.js" defer></script>
        </head>
        <body>
        <header class="top">
        <a class="brand" href="/">Hearth</a>
        <nav aria-label="Pages">{{#nav}}<a href="{{href}}"{{#current}} aria-current="page"{{/current}}>{{label}}</a>{{/nav}}</nav>
        {{#signedIn}}<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="{{csrf}}"><button>Sign out</button></form>{{/signedIn}}
        </header>
        <main>
        <h1>{{title}}</h1>
        {{{content}}}
        </main>
        </body>
        </html>
        """

    static let message = """
        <p class="message">{{text}}</p>
        """

    static let home = """
        <section aria-labelledby="inbox-title">
        <h2 id="inbox-title">Inbox</h2>
        {{^attention}}<p class="empty">Attention is off ([attention] enabled = false).</p>{{/attention}}
        <ul id="inbox" class="inbox" data-live="/inbox/stream">
        {{#inbox}}<li class="item level-{{level}}"><span class="tag level-{{level}}">{{level}}</span> <span class="text">{{text}}</span> <time>{{at}}</time>
        <details><summary>why</summary><p>{{reasons}}</p></details>
        <form method="post" action="/inbox/{{id}}/ack"><input type="hidden" name="csrf" value="{{csrf}}"><button>Done</button></form></li>
        {{/inbox}}
        </ul>
        {{^hasInbox}}<p class="empty" id="inbox-empty">No interruptions waiting.</p>{{/hasInbox}}
        </section>
        <section aria-labelledby="brief-title">
        <h2 id="brief-title">{{briefTitle}}</h2>
        {{#sections}}<h3>{{title}}</h3><ul>{{#items}}<li>{{text}}</li>{{/items}}</ul>{{/sections}}
        {{^sections}}<p class="empty">No brief yet: the first is written at the morning time set in [attention], or by 'hearth brief'.</p>{{/sections}}
        </section>
        """

    static let approvals = """
        {{#answered}}<p class="flash" role="status">{{text}}</p>{{/answered}}
        {{#none}}<p class="empty">Nothing waits for your approval.</p>{{/none}}
        {{#approvals}}
        <article class="card approval" data-approval-id="{{id}}">
        <h2>{{tool}} <span class="tag risk">{{risk}}</span></h2>
        <p class="meta">goal <a href="/goals/{{run}}">{{run}}</a> · task {{task}} · expires in {{expires}}</p>
        <p><strong>Why it waits:</strong> {{reason}}</p>
        {{#hasUntrusted}}<p class="warn">Some arguments came from content Hearth read (a file, a mail, a page), not from you: check them.</p>{{/hasUntrusted}}
        <dl class="arguments">{{#arguments}}<dt>{{name}}</dt><dd{{#untrusted}} class="untrusted"{{/untrusted}}><code>{{value}}</code>{{#untrusted}} <span class="tag warn">from untrusted content</span>{{/untrusted}}</dd>{{/arguments}}</dl>
        <p class="meta">bound to the action's hash <code>{{hash}}</code></p>
        <div class="actions">
        <form method="post" action="/approvals/{{id}}/approve"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" name="approve" value="1" class="approve">Approve</button></form>
        <form method="post" action="/approvals/{{id}}/deny" class="deny"><input type="hidden" name="csrf" value="{{csrf}}"><label>Reason <input name="reason" required maxlength="500"></label><button type="submit" name="deny" value="1" class="deny">Deny</button></form>
        </div>
        </article>
        {{/approvals}}
        """

    static let goals = """
        {{#canStart}}<form method="post" action="/goals" class="start"><input type="hidden" name="csrf" value="{{csrf}}"><label for="goal">New goal</label><input id="goal" name="goal" required maxlength="2000" placeholder="Summarise each note in Notes/"><button>Start</button></form>{{/canStart}}
        {{#none}}<p class="empty">No goals yet.</p>{{/none}}
        {{^none}}<div class="table"><table>
        <tr><th>Goal</th><th>What</th><th>State</th><th>Tasks done</th><th>Tokens</th><th>Age</th></tr>
        {{#runs}}<tr><td><a href="/goals/{{id}}">{{id}}</a></td><td>{{title}}</td><td><span class="state state-{{state}}">{{stateLabel}}</span></td><td>{{done}} of {{total}}</td><td>{{tokens}}</td><td>{{age}}</td></tr>
        {{/runs}}</table></div>{{/none}}
        """

    static let goal = """
        <p class="goal-text">{{goal}}</p>
        <p><span class="state state-{{state}}">{{stateLabel}}</span>{{#pause}} — {{pause}}{{/pause}}</p>
        <p class="meta">{{tokens}} tokens · {{modelCalls}} model calls · {{toolCalls}} tool calls</p>
        <div class="actions">
        {{#canCancel}}<form method="post" action="/goals/{{id}}/cancel"><input type="hidden" name="csrf" value="{{csrf}}"><button>Cancel</button></form>{{/canCancel}}
        {{#canResume}}<form method="post" action="/goals/{{id}}/resume"><input type="hidden" name="csrf" value="{{csrf}}"><button>Resume</button></form>{{/canResume}}
        </div>
        <h2>Plan</h2>
        <ul class="plan">{{#tasks}}<li><details{{#open}} open{{/open}}><summary><span class="state state-{{state}}">{{state}}</span> {{title}}</summary>
        {{#error}}<p class="error">{{error}}</p>{{/error}}{{#summary}}<p>{{summary}}</p>{{/summary}}
        <ul class="calls">{{#calls}}<li><code>{{tool}}</code> {{state}}{{#error}} — {{error}}{{/error}}</li>{{/calls}}</ul>
        </details></li>{{/tasks}}</ul>
        {{#report}}<h2>Report <a class="meta" href="/files/{{reportPath}}">{{reportPath}}</a></h2><article class="report">{{{report}}}</article>{{/report}}
        """
}
