/**
 * The dashboard's two static files, served with long-lived content types and no inline code (the
 * CSP allows scripts and styles from 'self' only): the stylesheet, and the login helper that takes
 * a token from the URL fragment (`/admin#token=…`, what the demo banner prints: a fragment never
 * reaches the server or its logs), posts it as the login form, and clears it from the address bar.
 */
export const ADMIN_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{display:flex;align-items:center;gap:24px;padding:10px 20px;background:#1d2330;color:#fff}
nav{display:flex;gap:14px;align-items:center;flex:1}
nav a{color:#c9d3e6;text-decoration:none}nav a[aria-current=page]{color:#fff;font-weight:600;border-bottom:2px solid #5aa0ff}
nav .logout{margin-left:auto}
main{padding:16px 20px;max-width:1200px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:12px}
th,td{border-bottom:1px solid #e3e6ea;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
.reauth{background:#fff1e6}.state-needs_reauth,.state-dead{color:#b3261e;font-weight:600}
.state-active,.state-succeeded{color:#1e7b34}
.note{color:#5b6372;font-size:13px}.ok{color:#1e7b34}.bad{color:#b3261e;font-weight:600}
.flash{background:#e8f3ff;border:1px solid #b6d4fe;padding:6px 10px;margin-bottom:12px}
.error{background:#fdecea;border:1px solid #f5c2c0;padding:6px 10px;margin-bottom:12px}
form.inline{display:inline}button{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;margin:0;font-size:12px}
.chart{background:#fff;border:1px solid #e3e6ea;margin:4px 0 12px;max-width:100%}
.chart .bar{fill:#5aa0ff}.chart .bar2{fill:#f0a35a}.chart .axis{stroke:#888}.chart .limit{stroke:#b3261e;stroke-dasharray:4 3}
.chart .tick{font-size:10px;fill:#5b6372}.chart .chart-title{font-size:12px;font-weight:600;fill:#1d2330}
.login{max-width:360px;margin:60px auto;background:#fff;padding:20px;border:1px solid #e3e6ea}
.login input{width:100%;box-sizing:border-box;padding:6px;margin:6px 0 12px}
`;

export const LOGIN_JS = `// b24kit admin: log in with a token given in the URL fragment (#token=…), then clear it
(function () {
  var match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, '', location.pathname + location.search);
  var form = document.getElementById('login');
  if (!form) return;
  form.elements.namedItem('token').value = decodeURIComponent(match[1]);
  form.submit();
})();
`;
