//! The JavaScript probes evaluated in the page. Each returns plain JSON describing what it
//! found, so Rust decides pass or fail and can say what was seen last.

use serde_json::json;

/// Shared helpers prepended to every probe.
const HELPERS: &str = r"
const q = (sel) => {
  try { return Array.from(document.querySelectorAll(sel)); }
  catch (e) { throw new Error('invalid CSS selector ' + JSON.stringify(sel) + ': ' + e.message); }
};
const visible = (el) => {
  if (!el.isConnected) return false;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) return false;
  if (el.checkVisibility) return el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  const s = getComputedStyle(el);
  return s.visibility !== 'hidden' && s.display !== 'none';
};
const text = (el) => {
  if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return el.value;
  return (el.innerText ?? el.textContent ?? '');
};
const describe = (el) => {
  if (!el) return 'nothing';
  let d = el.tagName.toLowerCase();
  if (el.id) d += '#' + el.id;
  if (typeof el.className === 'string' && el.className.trim()) d += '.' + el.className.trim().split(/\s+/).join('.');
  return d;
};
const firstVisible = (sel) => {
  const all = q(sel);
  const el = all.find(visible);
  if (!el) return { el: null, missing: all.length === 0 ? 'no element matches' : all.length + ' matching element(s), none visible' };
  return { el };
};
";

fn probe(body: &str, args: &serde_json::Value) -> String {
    format!("(() => {{ {HELPERS}\nconst args = {args};\n{body} }})()")
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

/// Scroll the first visible match into view and return its centre if a click there reaches it.
pub(crate) fn click_target(selector: &str) -> String {
    probe(
        "const { el, missing } = firstVisible(args.sel);
         if (!el) return { ready: false, why: missing };
         el.scrollIntoView({ block: 'center', inline: 'center' });
         const r = el.getBoundingClientRect();
         const x = r.left + r.width / 2, y = r.top + r.height / 2;
         const hit = document.elementFromPoint(x, y);
         if (hit && (hit === el || el.contains(hit) || hit.contains(el) && hit.tagName === 'LABEL')) return { ready: true, x, y };
         return { ready: false, why: 'element is covered by ' + describe(hit) };",
        &json!({ "sel": selector }),
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
         if (el.disabled || el.readOnly) return { ready: false, why: describe(el) + ' is disabled or read-only' };
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
