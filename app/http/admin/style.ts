/**
 * The admin page's own styles, on top of the shared page style: a dark scheme, field errors,
 * copy buttons, and tables that become stacked cards on narrow screens (no sideways scroll
 * at 390 px).
 */
export const ADMIN_CSS = `
:root{color-scheme:light dark;--fg:#1b1f23;--bg:#f6f7f9;--card:#fff;--line:#dde1e6;--muted:#5b636b;--code:#eef0f3;--accent:#0b5fff;--danger:#b42318;--err-bg:#fde8e8;--err-line:#e59a9a;--ok-bg:#e6f6ea;--ok-line:#8cc79c;--warn-bg:#fff4d6;--warn-line:#e8c25b}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--bg:#15181c;--card:#1e2227;--line:#363c44;--muted:#a3abb5;--code:#2a2f36;--accent:#7aa7ff;--danger:#ff8a80;--err-bg:#3a1f1f;--err-line:#8f4a4a;--ok-bg:#1b3324;--ok-line:#3f7a52;--warn-bg:#3a3118;--warn-line:#8a7330}}
body{color:var(--fg);background:var(--bg)}
main{padding:16px}
a{color:var(--accent)}
table,form{background:var(--card)}th,td{border-color:var(--line)}form{border-color:var(--line)}
.hint{color:var(--muted)}code{background:var(--code)}
.warn{background:var(--warn-bg);border-color:var(--warn-line)}.err{background:var(--err-bg);border-color:var(--err-line)}.ok{background:var(--ok-bg);border-color:var(--ok-line)}
input,select,textarea{background:var(--card);color:var(--fg);border:1px solid var(--line);border-radius:4px}
input::placeholder,textarea::placeholder{color:var(--muted);opacity:.8}
.field{margin-top:12px}.field label{margin:0 0 2px}.field .hint{margin-bottom:4px}
.field-error{color:var(--danger);font-weight:600;margin:4px 0 0}
[aria-invalid=true]{border:2px solid var(--danger)}
fieldset{border:1px solid var(--line);border-radius:6px;margin:16px 0 0;padding:4px 12px 12px;min-width:0}
legend{font-weight:600;padding:0 4px}
#form-errors ul{margin:6px 0 0;padding-left:20px}
.buttons{display:flex;flex-wrap:wrap;gap:8px}
button{border:1px solid var(--line);border-radius:4px;background:var(--card);color:var(--fg)}
button[type=submit]{background:var(--accent);border-color:var(--accent);color:#fff;font-weight:600}
@media (prefers-color-scheme:dark){button[type=submit]{color:#0b1220}}
button.danger{color:var(--danger)}
td.actions button,.copy{margin-top:0}
td.actions{white-space:nowrap}
.copy{padding:2px 8px;font-size:13px}
.copyable{display:inline}
.url+.url{margin-top:6px}
.message-text{white-space:pre-wrap;overflow-wrap:anywhere}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
form:not([data-mode=edit]) .edit-only{display:none}
form[data-mode=edit] .connect-only{display:none}
#flash:empty{display:none}
#flash:focus,#form-errors:focus{outline:2px solid var(--accent);outline-offset:2px}
@media (max-width:720px){
 main{padding:12px}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:auto}
 table.cards{border:0;background:none}
 table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
 table.cards tr{background:var(--card);border:1px solid var(--line);border-radius:6px;margin:0 0 12px;padding:8px 10px}
 table.cards td{border:0;padding:4px 0}
 table.cards td[data-label]::before{content:attr(data-label);display:block;font-size:12px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
 td.actions{padding-top:8px}
 td.actions button{padding:8px 16px}
}
`;
