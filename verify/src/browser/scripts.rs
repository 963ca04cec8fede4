//! The JavaScript probes evaluated in the page. Each returns plain JSON describing what it
//! found, so Rust decides pass or fail and can say what was seen last.

use serde_json::json;

/// Shared helpers prepended to every probe. They follow Playwright's rules so that a check
/// judges a page as Playwright would: selectors pierce open shadow roots (descendant and child
/// combinators cross shadow boundaries); visible means a non-empty box and not
/// `visibility: hidden` (opacity 0 is visible); disabled includes `<fieldset disabled>` and
/// `aria-disabled`; the hit test walks into shadow roots and names the element on top.
const HELPERS: &str = r#"
const parentOrHost = (el) => {
  if (el.parentElement) return el.parentElement;
  const root = el.parentNode;
  return root && root.nodeType === 11 && root.host ? root.host : null;
};
const splitTop = (sel, at) => {
  const parts = []; let depth = 0, quote = null, start = 0;
  for (let i = 0; i < sel.length; i++) {
    const c = sel[i];
    if (quote) { if (c === '\\') i++; else if (c === quote) quote = null; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === '\\') i++;
    else if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth--;
    else if (depth === 0 && at(c)) { parts.push(sel.slice(start, i)); parts.push(c); start = i + 1; }
  }
  parts.push(sel.slice(start));
  return parts;
};
const parseComplex = (sel) => {
  const tokens = [];
  let pending = null;
  const raw = splitTop(sel, (c) => c === ' ' || c === '>' || c === '+' || c === '~' || c === '\n' || c === '\t');
  for (let i = 0; i < raw.length; i += 2) {
    const part = raw[i].trim();
    const sep = raw[i + 1];
    if (part) {
      if (tokens.length) tokens.push(pending || ' ');
      tokens.push(part); pending = null;
    }
    if (sep && sep.trim()) pending = sep;
  }
  return tokens;
};
const matchesAt = (el, tokens, i) => {
  if (!el.matches(tokens[i])) return false;
  if (i === 0) return true;
  const comb = tokens[i - 1];
  if (comb === '>') { const p = parentOrHost(el); return !!p && matchesAt(p, tokens, i - 2); }
  if (comb === ' ') { for (let p = parentOrHost(el); p; p = parentOrHost(p)) if (matchesAt(p, tokens, i - 2)) return true; return false; }
  if (comb === '+') { const s = el.previousElementSibling; return !!s && matchesAt(s, tokens, i - 2); }
  for (let s = el.previousElementSibling; s; s = s.previousElementSibling) if (matchesAt(s, tokens, i - 2)) return true;
  return false;
};
const allElements = () => {
  const out = [];
  const walk = (root) => {
    for (let el = root.firstElementChild; el; el = el.nextElementSibling) {
      out.push(el);
      if (el.shadowRoot) walk(el.shadowRoot);
      walk(el);
    }
  };
  walk(document);
  return out;
};
const q = (sel) => {
  let lists;
  try {
    document.querySelector(sel);
    lists = splitTop(sel, (c) => c === ',').filter((_, i) => i % 2 === 0).map(parseComplex);
    if (lists.some((t) => t.length === 0)) throw new Error('empty selector');
    const els = allElements();
    return els.filter((el) => lists.some((t) => matchesAt(el, t, t.length - 1)));
  } catch (e) { throw new Error('invalid CSS selector ' + JSON.stringify(sel) + ': ' + e.message); }
};
const visible = (el) => {
  if (!el.isConnected) return false;
  const s = getComputedStyle(el);
  if (s.display === 'contents') {
    for (let c = el.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 1 && visible(c)) return true;
      if (c.nodeType === 3) { const r = document.createRange(); r.selectNode(c); const b = r.getBoundingClientRect(); if (b.width > 0 && b.height > 0) return true; }
    }
    return false;
  }
  if (el.checkVisibility && !el.checkVisibility()) return false;
  if (s.visibility !== 'visible') return false;
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
};
const text = (el) => {
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return el.value;
  return (el.innerText ?? el.textContent ?? '');
};
const describe = (el) => {
  if (!el) return 'nothing';
  let d = '<' + el.tagName.toLowerCase();
  if (el.id) d += ' id="' + el.id + '"';
  if (typeof el.className === 'string' && el.className.trim()) d += ' class="' + el.className.trim() + '"';
  d += '>';
  const t = (el.textContent || '').trim().replace(/\s+/g, ' ');
  if (t) d += (t.length > 30 ? t.slice(0, 30) + '…' : t) + '</' + el.tagName.toLowerCase() + '>';
  return d;
};
const ariaDisabledRoles = ['application', 'button', 'composite', 'gridcell', 'group', 'input', 'link', 'menuitem', 'scrollbar', 'separator', 'tab', 'checkbox', 'columnheader', 'combobox', 'grid', 'listbox', 'menu', 'menubar', 'menuitemcheckbox', 'menuitemradio', 'option', 'radio', 'radiogroup', 'row', 'rowheader', 'searchbox', 'select', 'slider', 'spinbutton', 'switch', 'tablist', 'textbox', 'toolbar', 'tree', 'treegrid', 'treeitem'];
const role = (el) => {
  const explicit = (el.getAttribute('role') || '').trim().split(/\s+/)[0];
  if (explicit) return explicit;
  const tag = el.tagName;
  if (tag === 'BUTTON') return 'button';
  if (tag === 'A' && el.hasAttribute('href')) return 'link';
  if (tag === 'TEXTAREA') return 'textbox';
  if (tag === 'OPTION') return 'option';
  if (tag === 'SELECT') return el.multiple || el.size > 1 ? 'listbox' : 'combobox';
  if (tag === 'INPUT') {
    const type = el.type;
    if (type === 'checkbox' || type === 'radio') return type;
    if (['button', 'submit', 'reset', 'image'].includes(type)) return 'button';
    if (type === 'range') return 'slider';
    if (type === 'number') return 'spinbutton';
    if (type === 'hidden') return '';
    return 'textbox';
  }
  return '';
};
const nativelyDisabled = (el) => {
  if (!['BUTTON', 'INPUT', 'SELECT', 'TEXTAREA', 'OPTION', 'OPTGROUP'].includes(el.tagName)) return false;
  if (el.hasAttribute('disabled')) return true;
  const group = el.closest('optgroup');
  if (el.tagName === 'OPTION' && group && group.hasAttribute('disabled')) return true;
  const fieldset = el.parentElement && el.parentElement.closest('fieldset[disabled]');
  if (!fieldset) return false;
  const legend = fieldset.querySelector(':scope > legend');
  return !legend || !legend.contains(el);
};
// aria-disabled counts on widgets (roles that support it) and is inherited from any ancestor
// until one says aria-disabled="false".
const ariaDisabled = (el, ancestor) => {
  if (!el) return false;
  if (!ancestor && !ariaDisabledRoles.includes(role(el))) return false;
  const value = (el.getAttribute('aria-disabled') || '').toLowerCase();
  if (value === 'true') return true;
  if (value === 'false') return false;
  return ariaDisabled(parentOrHost(el), true);
};
const disabled = (el) => nativelyDisabled(el) || ariaDisabled(el, false);
const control = (el) => (el instanceof HTMLLabelElement && el.control) ? el.control : el;
const checkedState = (el) => {
  const target = control(el);
  if (target instanceof HTMLInputElement && (target.type === 'checkbox' || target.type === 'radio')) return { state: target.checked };
  const role = target.getAttribute('role');
  if (['checkbox', 'radio', 'switch', 'menuitemcheckbox', 'menuitemradio', 'option', 'treeitem'].includes(role)) {
    const a = target.getAttribute('aria-checked');
    return { state: a === 'true' };
  }
  return { error: describe(el) + ' is not a checkbox or radio button' };
};
const firstVisible = (sel) => {
  const all = q(sel);
  const el = all.find(visible);
  if (!el) return { el: null, missing: all.length === 0 ? 'no element matches' : all.length + ' matching element(s), none visible' };
  return { el };
};
// The next animation frame's time; null when none comes within a second (a throttled page):
// stability is only judged on real frames.
const frame = () => new Promise((done) => { requestAnimationFrame((t) => done(t)); setTimeout(() => done(null), 1000); });
// A frame later than `after`: a loaded renderer can run two callbacks at one frame time, and
// an animation's clock only moves between frames that differ in time.
const frameAfter = async (after) => {
  for (let i = 0; i < 5; i++) {
    const t = await frame();
    if (t === null || t > after) return t;
  }
  return null;
};
const hitTarget = (el, x, y) => {
  const roots = [];
  for (let p = el; p; ) {
    const root = p.getRootNode();
    roots.push(root);
    if (root.nodeType === 9 || !root.host) break;
    p = root.host;
  }
  let hit = null;
  for (let i = roots.length - 1; i >= 0; i--) {
    const inner = roots[i].elementFromPoint(x, y);
    if (!inner) break;
    hit = inner;
    if (i && inner !== roots[i - 1].host) break;
  }
  const path = [];
  while (hit && hit !== el) { path.push(hit); hit = parentOrHost(hit); }
  if (hit === el) return null;
  return describe(path[0] || document.documentElement) + ' intercepts pointer events';
};
"#;

fn probe(body: &str, args: &serde_json::Value) -> String {
    format!("(() => {{ {HELPERS}\nconst args = {args};\n{body} }})()")
}

/// A probe whose body may `await`; evaluated with `awaitPromise`.
fn async_probe(body: &str, args: &serde_json::Value) -> String {
    format!("(async () => {{ {HELPERS}\nconst args = {args};\n{body} }})()")
}

/// Texts of the elements matching a selector (at most 20).
pub(crate) fn texts(selector: &str) -> String {
    probe(
        "const els = q(args.sel); return { count: els.length, texts: els.slice(0, 20).map(text) };",
        &json!({ "sel": selector }),
    )
}

/// How many elements match and how many of them are visible, with a sample of the visible ones.
pub(crate) fn visibility(selector: &str) -> String {
    probe(
        "const els = q(args.sel); const shown = els.filter(visible);
         return { count: els.length, visible: shown.length, sample: shown.slice(0, 3).map(describe) };",
        &json!({ "sel": selector }),
    )
}

/// The page URL.
pub(crate) fn location() -> String {
    "location.href".to_owned()
}

/// The actionability checks before a pointer action, in Playwright's order: the first visible
/// match is attached and visible, enabled (`need_enabled`), scrolled into view, stable (the
/// same box in two consecutive animation frames) and hit by a pointer event at its action point (the
/// centre of its first box inside the viewport). `want_checked` (for check/uncheck) asks
/// for the state first: `done` when it already holds. Answers a promise.
pub(crate) fn action_target(
    selector: &str,
    need_enabled: bool,
    want_checked: Option<bool>,
) -> String {
    async_probe(
        "const { el, missing } = firstVisible(args.sel);
         if (!el) return { ready: false, why: missing };
         if (args.want !== null) {
           const c = checkedState(el);
           if (c.error) return { ready: false, why: c.error, fatal: true };
           if (c.state === args.want) return { ready: true, done: true };
           const input = control(el);
           if (!args.want && input instanceof HTMLInputElement && input.type === 'radio')
             return { ready: false, fatal: true, why: 'a radio button cannot be unchecked; check another one of its group' };
         }
         if (args.enabled && disabled(el)) return { ready: false, why: describe(el) + ' is disabled' };
         if (el.scrollIntoViewIfNeeded) el.scrollIntoViewIfNeeded(true); else el.scrollIntoView({ block: 'center', inline: 'center' });
         // Both boxes are read inside animation frames, as Playwright does: a box read between
         // frames can show an animation's clock where the next frame's shows it too.
         const first = await frame();
         if (first === null) return { ready: false, why: 'the page produced no animation frame' };
         const before = el.getBoundingClientRect();
         if ((await frameAfter(first)) === null) return { ready: false, why: 'the page produced no animation frame' };
         const r = el.getBoundingClientRect();
         if (!el.isConnected) return { ready: false, why: describe(el) + ' was detached from the page' };
         if (before.x !== r.x || before.y !== r.y || before.width !== r.width || before.height !== r.height)
           return { ready: false, why: describe(el) + ' is not stable (it moves or resizes)' };
         const vw = innerWidth, vh = innerHeight;
         const box = Array.from(el.getClientRects()).map((b) => {
           const left = Math.max(b.left, 0), top = Math.max(b.top, 0);
           const right = Math.min(b.right, vw), bottom = Math.min(b.bottom, vh);
           return { left, top, right, bottom };
         }).find((b) => (b.right - b.left) * (b.bottom - b.top) > 0.99);
         if (!box) return { ready: false, why: describe(el) + ' is outside of the viewport' };
         const x = (box.left + box.right) / 2, y = (box.top + box.bottom) / 2;
         const blocked = hitTarget(el, x, y);
         if (blocked) return { ready: false, why: blocked };
         return { ready: true, done: false, x, y };",
        &json!({ "sel": selector, "enabled": need_enabled, "want": want_checked }),
    )
}

/// Whether the first visible match (or the control of a matched label) is checked.
pub(crate) fn checked_of_visible(selector: &str) -> String {
    probe(
        "const { el, missing } = firstVisible(args.sel);
         if (!el) return { found: false, why: missing };
         const c = checkedState(el);
         if (c.error) return { found: true, error: c.error };
         return { found: true, checked: c.state };",
        &json!({ "sel": selector }),
    )
}

/// The state of the first match, visible or not: value, checked, enabled, an attribute.
pub(crate) fn state(selector: &str, attribute: Option<&str>) -> String {
    probe(
        "const el = q(args.sel)[0];
         if (!el) return { found: false };
         const c = checkedState(el);
         const valued = el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement;
         return {
           found: true,
           describe: describe(el),
           value: valued ? el.value : null,
           checked: c.error ? null : c.state,
           disabled: disabled(el),
           attribute: args.attr === null ? null : el.getAttribute(args.attr),
         };",
        &json!({ "sel": selector, "attr": attribute }),
    )
}

/// Replace the content of the first visible editable match through the browser's editing
/// pipeline (`insertText` fires beforeinput/input like typing, in one round trip); inputs
/// that cannot be typed into (date, color, range) get their value set directly.
pub(crate) fn fill(selector: &str, text: &str) -> String {
    probe(
        "const { el, missing } = firstVisible(args.sel);
         if (!el) return { ready: false, why: missing };
         const typed = el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement;
         if (!typed && !el.isContentEditable) return { ready: false, why: describe(el) + ' is not an input, textarea or contenteditable element', fatal: true };
         if (el instanceof HTMLInputElement && ['checkbox', 'radio', 'file', 'button', 'submit', 'reset', 'image'].includes(el.type)) return { ready: false, why: 'an input of type ' + el.type + ' cannot be filled', fatal: true };
         if (disabled(el) || el.readOnly) return { ready: false, why: describe(el) + ' is disabled or read-only' };
         el.focus();
         const setDirectly = () => {
           const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
           Object.getOwnPropertyDescriptor(proto, 'value').set.call(el, args.text);
           el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: args.text }));
           el.dispatchEvent(new Event('change', { bubbles: true }));
         };
         const direct = ['date', 'time', 'datetime-local', 'month', 'week', 'color', 'range', 'number'];
         if (el instanceof HTMLInputElement && direct.includes(el.type)) { setDirectly(); return { ready: true }; }
         if (typed) {
           try { el.select(); } catch (e) { el.setSelectionRange(0, el.value.length); }
         } else {
           const range = document.createRange();
           range.selectNodeContents(el);
           getSelection().removeAllRanges();
           getSelection().addRange(range);
         }
         const edited = args.text === '' ? document.execCommand('delete') : document.execCommand('insertText', false, args.text);
         if (!edited && typed) setDirectly();
         return { ready: true };",
        &json!({ "sel": selector, "text": text }),
    )
}

/// Focus the first visible match.
pub(crate) fn focus(selector: &str) -> String {
    probe(
        "const { el, missing } = firstVisible(args.sel);
         if (!el) return { ready: false, why: missing };
         el.focus();
         return { ready: true };",
        &json!({ "sel": selector }),
    )
}

/// Choose the option of a `<select>` whose value or label equals `value`.
pub(crate) fn select_option(selector: &str, value: &str) -> String {
    probe(
        "const { el, missing } = firstVisible(args.sel);
         if (!el) return { ready: false, why: missing };
         if (!(el instanceof HTMLSelectElement)) return { ready: false, why: describe(el) + ' is not a <select>', fatal: true };
         if (disabled(el)) return { ready: false, why: describe(el) + ' is disabled' };
         const options = Array.from(el.options);
         const option = options.find(o => o.value === args.value) || options.find(o => o.label.trim() === args.value.trim());
         if (!option) return { ready: false, why: 'no option with value or label ' + JSON.stringify(args.value) + '; options: ' + options.map(o => o.value + ' (' + o.label.trim() + ')').join(', ') };
         el.focus();
         option.selected = true;
         el.dispatchEvent(new Event('input', { bubbles: true }));
         el.dispatchEvent(new Event('change', { bubbles: true }));
         return { ready: true };",
        &json!({ "sel": selector, "value": value }),
    )
}

/// The visible text of the page or of the first match, capped.
pub(crate) fn visible_text(selector: Option<&str>, cap: usize) -> String {
    probe(
        "const el = args.sel === null ? document.body : q(args.sel)[0];
         if (!el) return { found: false };
         const all = (el.innerText ?? el.textContent ?? '');
         return { found: true, text: all.slice(0, args.cap), total: all.length };",
        &json!({ "sel": selector, "cap": cap }),
    )
}
