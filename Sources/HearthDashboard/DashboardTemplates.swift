/// The dashboard's pages as Mustache templates. `{{value}}` is escaped; `{{{content}}}` (the
/// only unescaped slot besides the sanitised report) holds a page this module rendered.
enum DashboardTemplates {
    static let all: [String: String] = [
        "layout": layout, "message": message, "home": home, "approvals": approvals, "goals": goals, "goal": goal, "chat": chat,
        "memory": memory, "trace": trace, "usage": usage, "health": health,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Hearth</title>
        <link rel="stylesheet" href="/static/dashboard.css">
        <link rel="icon" href="/static/icon.svg" type="image/svg+xml">
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
        {{#noted}}<p class="flash" role="status">{{text}}</p>{{/noted}}
        <section aria-labelledby="inbox-title">
        <h2 id="inbox-title">Inbox</h2>
        {{^attention}}<p class="empty">Attention is off ([attention] enabled = false).</p>{{/attention}}
        <ul id="inbox" class="inbox" data-live="/inbox/stream">
        {{#inbox}}<li class="item level-{{level}}"><span class="tag level-{{level}}">{{level}}</span> <span class="text">{{text}}</span> <time>{{at}}</time>
        <details><summary>why</summary><p>{{reasons}}</p></details>
        <div class="actions"><form method="post" action="/inbox/{{id}}/ack"><input type="hidden" name="csrf" value="{{csrf}}"><button>Done</button></form>
        <form method="post" action="/inbox/{{id}}/feedback"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="verdict" value="urgent"><button name="urgent" title="More like this should interrupt">Urgent</button></form>
        <form method="post" action="/inbox/{{id}}/feedback"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="verdict" value="not-urgent"><button name="not-urgent" title="More like this can wait for the digest">Not urgent</button></form></div></li>
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
        {{#paging}}<nav class="paging" aria-label="More">{{#newer}}<a href="{{newer}}">← Newer</a>{{/newer}} <span class="meta">{{text}}</span> {{#older}}<a href="{{older}}">Older →</a>{{/older}}</nav>{{/paging}}
        """

    static let goals = """
        {{#modelProblem}}<p class="warn" role="status">{{text}}</p>{{/modelProblem}}
        {{#canStart}}<form method="post" action="/goals" class="start"><input type="hidden" name="csrf" value="{{csrf}}"><label for="goal">New goal</label><input id="goal" name="goal" required maxlength="2000" placeholder="Summarise each note in Notes/"><button>Start</button></form>{{/canStart}}
        {{#none}}<p class="empty">No goals yet.</p>{{/none}}
        {{^none}}<div class="table"><table>
        <tr><th>Goal</th><th>What</th><th>State</th><th>Tasks done</th><th>Tokens</th><th>Age</th></tr>
        {{#runs}}<tr><td><a href="/goals/{{id}}">{{id}}</a></td><td>{{title}}</td><td><span class="state state-{{state}}">{{stateLabel}}</span></td><td>{{done}} of {{total}}</td><td>{{tokens}}</td><td>{{age}}</td></tr>
        {{/runs}}</table></div>{{/none}}
        {{#paging}}<nav class="paging" aria-label="More">{{#newer}}<a href="{{newer}}">← Newer</a>{{/newer}} <span class="meta">{{text}}</span> {{#older}}<a href="{{older}}">Older →</a>{{/older}}</nav>{{/paging}}
        """

    static let goal = """
        {{#flash}}<p class="flash" role="status">{{text}}</p>{{/flash}}
        <p class="goal-text">{{goal}}</p>
        <p><span class="state state-{{state}}">{{stateLabel}}</span>{{#pause}} — {{pause}}{{/pause}}</p>
        <p class="meta">{{tokens}} tokens · {{modelCalls}} model calls · {{toolCalls}} tool calls · <a href="/goals/{{id}}/trace">trace</a></p>
        <div class="actions">
        {{#canCancel}}<form method="post" action="/goals/{{id}}/cancel"><input type="hidden" name="csrf" value="{{csrf}}"><button>Cancel</button></form>{{/canCancel}}
        {{#canResume}}<form method="post" action="/goals/{{id}}/resume"><input type="hidden" name="csrf" value="{{csrf}}"><button>Resume</button></form>{{/canResume}}
        </div>
        <h2>Plan</h2>
        <ul class="plan">{{#tasks}}<li><details{{#open}} open{{/open}}><summary><span class="state state-{{state}}">{{state}}</span> {{title}}</summary>
        {{#error}}<p class="error">{{error}}</p>{{/error}}{{#summary}}<p>{{summary}}</p>{{/summary}}
        <ul class="calls">{{#calls}}<li><code>{{tool}}</code> {{state}}{{#error}} — {{error}}{{/error}}</li>{{/calls}}</ul>
        </details></li>{{/tasks}}</ul>
        {{#review}}<h2>Findings <a class="meta" href="/files/{{reportPath}}">{{reportPath}}</a></h2>
        <p>{{count}} violation(s). Overrule one the review judged too strictly before you approve publishing: the reason becomes a standing rule the next review applies (a term in quotes, like "svc-", covers every line with it).</p>
        <ul class="findings">{{#findings}}<li><strong>{{id}}</strong> {{spec}}:{{line}} — Article {{article}}, page {{page}}<br><q>{{claim}}</q>
        {{#dismissed}}<p class="meta">Dismissed: {{rule}}</p>{{/dismissed}}
        {{^dismissed}}{{#canDismiss}}<form method="post" action="/goals/{{runID}}/findings/{{id}}/dismiss" class="dismiss"><input type="hidden" name="csrf" value="{{csrf}}"><label>Why it is wrong <input name="reason" required minlength="3" maxlength="500"></label><button>Dismiss</button></form>{{/canDismiss}}{{/dismissed}}
        {{#judged}}<p class="meta">No amount to compare: judged by {{judged}}</p>{{/judged}}
        </li>{{/findings}}</ul>
        {{#undecided}}<p>{{undecided}} line(s) speak to a requirement without an amount that no model decided: they are yours to judge, listed in the report.</p>{{/undecided}}{{/review}}
        {{#report}}<h2>Report <a class="meta" href="/files/{{reportPath}}">{{reportPath}}</a></h2><article class="report">{{{report}}}</article>{{/report}}
        """

    static let chat = """
        <div class="chat">
        <aside class="sessions" aria-label="Conversations">
        <p><a href="/chat">New conversation</a></p>
        {{#noSessions}}<p class="empty">No conversations yet.</p>{{/noSessions}}
        <ul>{{#sessions}}<li><a href="/chat/{{id}}"{{#current}} aria-current="page"{{/current}}>{{title}}</a> <span class="meta">{{turns}} turns · {{updated}}</span></li>{{/sessions}}</ul>
        </aside>
        <section class="conversation" aria-labelledby="conversation-title">
        <h2 id="conversation-title">{{conversation}}</h2>
        {{#modelProblem}}<p class="warn" role="status">{{text}}</p>{{/modelProblem}}
        {{#waiting}}<p class="warn" role="status">{{text}}: <a href="/approvals">Approvals</a>.</p>{{/waiting}}
        <ol id="turns" class="turns">
        {{#turns}}<li class="turn turn-{{role}}"><span class="who">{{speaker}}</span> <time>{{at}}</time><p>{{text}}</p></li>{{/turns}}
        </ol>
        {{#empty}}<p class="empty" id="turns-empty">Say something: Hearth remembers what you tell it across sessions.</p>{{/empty}}
        <form method="post" action="/chat" id="chat-form" class="start">
        <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="session" value="{{session}}">
        <label for="message" class="hidden-label">Message</label>
        <input id="message" name="message" required maxlength="16000" autocomplete="off" placeholder="Ask, or tell Hearth how you like things done">
        <button type="submit" name="send">Send</button>
        </form>
        </section>
        </div>
        """

    static let memory = """
        {{#flash}}<p class="flash" role="status">{{text}}</p>{{/flash}}
        <form method="get" action="/memory" class="start" role="search"><label for="q">Search memory</label><input id="q" name="q" value="{{query}}" maxlength="500"><button>Search</button></form>
        {{#searched}}<p class="meta">{{mode}}</p>
        {{#noHits}}<p class="empty">Nothing relevant found.</p>{{/noHits}}
        <ol class="hits">{{#hits}}<li class="card"><p>{{text}}</p>
        <p class="meta">#{{id}} · {{source}} · {{at}} · score {{score}}{{#untrusted}} · <span class="tag warn">untrusted content</span>{{/untrusted}}</p>
        <p class="meta"><strong>Why:</strong> {{reasons}}</p>
        <form method="post" action="/memory/records/{{id}}/forget"><input type="hidden" name="csrf" value="{{csrf}}"><button name="forget">Forget</button></form></li>{{/hits}}</ol>{{/searched}}
        <h2>Profile</h2>
        {{#noProfile}}<p class="empty">No preferences or standing rules yet. Tell Hearth in Chat ("I prefer…", "always…").</p>{{/noProfile}}
        <ul>{{#profile}}<li>{{sentence}} <span class="meta">{{kind}} · since {{since}}</span></li>{{/profile}}</ul>
        {{#hasHistory}}<details><summary>History (what it believed before)</summary><ul>{{#history}}<li><s>{{sentence}}</s> <span class="meta">{{from}} – {{until}}</span></li>{{/history}}</ul></details>{{/hasHistory}}
        <h2>Waiting for your confirmation</h2>
        {{^hasPending}}<p class="empty">Nothing: facts from files, mail or the web wait here before they shape what Hearth does.</p>{{/hasPending}}
        <ul class="pending">{{#pending}}<li class="card" data-fact-id="{{id}}"><p>{{sentence}}</p>{{#record}}<p class="meta">from record #{{record}}</p>{{/record}}
        <div class="actions"><form method="post" action="/memory/facts/{{id}}/confirm"><input type="hidden" name="csrf" value="{{csrf}}"><button class="approve" name="confirm">Confirm</button></form>
        <form method="post" action="/memory/facts/{{id}}/reject"><input type="hidden" name="csrf" value="{{csrf}}"><button name="reject">Reject</button></form></div></li>{{/pending}}</ul>
        """

    static let trace = """
        <p class="goal-text"><a href="/goals/{{id}}">{{goal}}</a></p>
        <p class="meta">{{span}} · {{modelCalls}} model calls ({{promptTokens}} prompt tokens, {{cachedTokens}} cached, {{completionTokens}} completion) · {{toolCalls}} tool calls</p>
        {{#none}}<p class="empty">Nothing traced yet.</p>{{/none}}
        {{^none}}<div class="table"><table class="waterfall">
        <tr><th>At</th><th>What</th><th>Task</th><th class="lane">Timeline</th><th>Time</th><th>Tokens</th><th>Outcome</th></tr>
        {{#rows}}<tr class="kind-{{kind}}"><td>{{offset}}</td><td><span class="tag kind-{{kind}}">{{kind}}</span> {{name}}</td><td>{{task}}</td>
        <td class="lane"><svg viewBox="0 0 1000 12" preserveAspectRatio="none" aria-hidden="true"><rect class="span-{{kind}}" x="{{x}}" y="1" width="{{width}}" height="10"></rect></svg></td>
        <td>{{duration}}</td><td>{{tokens}}</td><td{{#failed}} class="error"{{/failed}}>{{outcome}}</td></tr>{{/rows}}
        </table></div>{{/none}}
        """

    static let usage = """
        <form method="get" action="/usage" class="start"><label for="days">Days</label><input id="days" name="days" type="number" min="1" max="366" value="{{days}}"><button>Show</button></form>
        <dl class="figures"><div><dt>Model calls</dt><dd>{{calls}}</dd></div><div><dt>Tokens</dt><dd>{{tokens}}</dd></div>
        <div><dt>Prompt / completion</dt><dd>{{prompt}} / {{completion}}</dd></div><div><dt>Prompt cache reuse</dt><dd>{{cached}}</dd></div>
        <div><dt>Model time</dt><dd>{{seconds}} s</dd></div><div><dt>Cost</dt><dd>{{cost}}</dd></div>
        <div><dt>Decode (median)</dt><dd>{{decode}}</dd></div><div><dt>Prefill (median)</dt><dd>{{prefill}}</dd></div></dl>
        {{#none}}<p class="empty">No model calls in these {{days}} days.</p>{{/none}}
        <h2>Tokens per day</h2>{{{dayChart}}}
        <h2>Budgets</h2>
        {{#noBudgets}}<p class="empty">No daily budget is set ([budgets.day] in the config).</p>{{/noBudgets}}
        {{#budgets}}<div class="budget"><p>{{name}}: {{text}} — <span{{#over}} class="error"{{/over}}>{{left}}</span></p><svg viewBox="0 0 1000 10" preserveAspectRatio="none" aria-hidden="true"><rect class="track" width="1000" height="10"></rect><rect class="bar" width="{{width}}" height="10"></rect></svg></div>{{/budgets}}
        {{#limits}}<p class="meta">Each of {{scope}}: {{text}}.</p>{{/limits}}
        <h2>By model</h2>{{{modelChart}}}
        <div class="table"><table><tr><th>Model</th><th>Calls</th><th>Tokens</th><th>Prompt</th><th>Completion</th><th>Time (s)</th><th>Cost</th></tr>
        {{#models}}<tr><td>{{name}}</td><td>{{calls}}</td><td>{{tokens}}</td><td>{{prompt}}</td><td>{{completion}}</td><td>{{seconds}}</td><td>{{cost}}</td></tr>{{/models}}</table></div>
        <h2>By purpose</h2>{{{purposeChart}}}
        <div class="table"><table><tr><th>Purpose</th><th>Calls</th><th>Tokens</th><th>Prompt</th><th>Completion</th><th>Time (s)</th><th>Cost</th></tr>
        {{#purposes}}<tr><td>{{name}}</td><td>{{calls}}</td><td>{{tokens}}</td><td>{{prompt}}</td><td>{{completion}}</td><td>{{seconds}}</td><td>{{cost}}</td></tr>{{/purposes}}</table></div>
        """

    static let health = """
        {{#sections}}<section class="card"><h2>{{title}}</h2><dl class="health">{{#lines}}<dt>{{name}}</dt><dd><span class="state health-{{state}}">{{label}}</span> {{detail}}</dd>{{/lines}}</dl></section>{{/sections}}
        """
}
