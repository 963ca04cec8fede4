//! Key events for the keys checks use most, sent as raw `Input.dispatchKeyEvent` over the
//! fast lane: a key-down carrying the text (so Enter submits and letters type) and a key-up.

use serde_json::{Value, json};

pub(crate) struct KeyDefinition {
    key: String,
    code: String,
    key_code: u32,
    text: Option<String>,
}

/// Named keys and single printable characters; `None` for anything else.
pub(crate) fn definition(key: &str) -> Option<KeyDefinition> {
    let named = |code: &str, key_code: u32, text: Option<&str>| KeyDefinition {
        key: key.to_owned(),
        code: code.to_owned(),
        key_code,
        text: text.map(str::to_owned),
    };
    let found = match key {
        "Enter" => named("Enter", 13, Some("\r")),
        "Tab" => named("Tab", 9, None),
        "Escape" => named("Escape", 27, None),
        "Backspace" => named("Backspace", 8, None),
        "Delete" => named("Delete", 46, None),
        " " | "Space" => KeyDefinition {
            key: " ".to_owned(),
            code: "Space".to_owned(),
            key_code: 32,
            text: Some(" ".to_owned()),
        },
        "ArrowLeft" => named("ArrowLeft", 37, None),
        "ArrowUp" => named("ArrowUp", 38, None),
        "ArrowRight" => named("ArrowRight", 39, None),
        "ArrowDown" => named("ArrowDown", 40, None),
        "Home" => named("Home", 36, None),
        "End" => named("End", 35, None),
        "PageUp" => named("PageUp", 33, None),
        "PageDown" => named("PageDown", 34, None),
        _ => return printable(key),
    };
    Some(found)
}

fn printable(key: &str) -> Option<KeyDefinition> {
    let mut chars = key.chars();
    let c = chars.next()?;
    if chars.next().is_some() || !c.is_ascii_alphanumeric() {
        return None;
    }
    let upper = c.to_ascii_uppercase();
    let code = if c.is_ascii_digit() {
        format!("Digit{c}")
    } else {
        format!("Key{upper}")
    };
    Some(KeyDefinition {
        key: key.to_owned(),
        code,
        key_code: u32::from(upper),
        text: Some(key.to_owned()),
    })
}

impl KeyDefinition {
    /// The key-down (with text when the key types something) and the key-up.
    pub(crate) fn events(&self) -> [Value; 2] {
        let mut down = json!({
            "type": if self.text.is_some() { "keyDown" } else { "rawKeyDown" },
            "key": self.key,
            "code": self.code,
            "windowsVirtualKeyCode": self.key_code,
            "nativeVirtualKeyCode": self.key_code,
        });
        if let Some(text) = &self.text {
            down["text"] = json!(text);
            down["unmodifiedText"] = json!(text);
        }
        let up = json!({
            "type": "keyUp",
            "key": self.key,
            "code": self.code,
            "windowsVirtualKeyCode": self.key_code,
            "nativeVirtualKeyCode": self.key_code,
        });
        [down, up]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_types_a_carriage_return_and_letters_type_themselves() {
        let [down, up] = definition("Enter").unwrap().events();
        assert_eq!(down["type"], "keyDown");
        assert_eq!(down["text"], "\r");
        assert_eq!(up["type"], "keyUp");
        let [down, _] = definition("a").unwrap().events();
        assert_eq!(
            (
                down["code"].as_str(),
                down["windowsVirtualKeyCode"].as_u64()
            ),
            (Some("KeyA"), Some(65))
        );
        assert_eq!(
            definition("Escape").unwrap().events()[0]["type"],
            "rawKeyDown"
        );
        assert!(definition("F5").is_none());
        assert!(definition("é").is_none());
    }
}
