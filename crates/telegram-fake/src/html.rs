//! Telegram's HTML parse mode: the tags it accepts, turned into plain text
//! plus `MessageEntity` objects (offsets in UTF-16 code units), and the
//! errors it gives for everything else.

use serde_json::{json, Value};

struct Open {
    name: String,
    start: usize,
    entity: Option<Value>,
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Parses `input` as Telegram HTML. On error returns the text that follows
/// "Bad Request: can't parse entities: " in Telegram's answer.
pub fn parse(input: &str) -> Result<(String, Vec<Value>), String> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut out16 = 0usize;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities: Vec<Value> = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => {
                let Some(rel) = input[i..].find('>') else {
                    return Err(format!(
                        "Can't find end of the tag starting at byte offset {i}"
                    ));
                };
                let inner = &input[i + 1..i + rel];
                if let Some(end) = inner.strip_prefix('/') {
                    let name = end.trim().to_ascii_lowercase();
                    let Some(open) = stack.pop() else {
                        return Err(format!("Unexpected end tag at byte offset {i}"));
                    };
                    if open.name != name {
                        return Err(format!(
                            "Unmatched end tag at byte offset {i}, expected \"</{}>\", found \"</{}>\"",
                            open.name, name
                        ));
                    }
                    if let Some(mut entity) = open.entity {
                        let length = out16 - open.start;
                        if length > 0 {
                            entity["offset"] = json!(open.start);
                            entity["length"] = json!(length);
                            entities.push(entity);
                        }
                    }
                } else {
                    let (name, attrs) = split_tag(inner);
                    let entity = start_entity(&name, &attrs, &stack, i)?;
                    // A <code class="language-x"> directly inside <pre> only sets the language.
                    if name == "code" {
                        if let Some(lang) = attrs
                            .iter()
                            .find(|(k, _)| k == "class")
                            .and_then(|(_, v)| v.strip_prefix("language-"))
                        {
                            if let Some(pre) = stack.last_mut() {
                                if pre.name == "pre" && pre.start == out16 {
                                    if let Some(e) = pre.entity.as_mut() {
                                        e["language"] = json!(lang);
                                    }
                                    stack.push(Open {
                                        name,
                                        start: out16,
                                        entity: None,
                                    });
                                    i += rel + 1;
                                    continue;
                                }
                            }
                        }
                    }
                    stack.push(Open {
                        name,
                        start: out16,
                        entity: Some(entity),
                    });
                }
                i += rel + 1;
            }
            b'&' => {
                let rest = &input[i..];
                let end = rest.find(';').filter(|&e| e <= 10);
                let decoded = end.and_then(|e| decode_entity(&rest[1..e]));
                match (end, decoded) {
                    (Some(e), Some(c)) => {
                        out.push(c);
                        out16 += c.len_utf16();
                        i += e + 1;
                    }
                    _ => {
                        out.push('&');
                        out16 += 1;
                        i += 1;
                    }
                }
            }
            _ => {
                let next = input[i..]
                    .find(['<', '&'])
                    .map(|n| i + n)
                    .unwrap_or(bytes.len());
                let chunk = &input[i..next];
                out.push_str(chunk);
                out16 += utf16_len(chunk);
                i = next;
            }
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            open.name
        ));
    }
    entities.sort_by_key(|e| {
        (
            e["offset"].as_u64(),
            std::cmp::Reverse(e["length"].as_u64()),
        )
    });
    Ok((out, entities))
}

fn split_tag(inner: &str) -> (String, Vec<(String, String)>) {
    let inner = inner.trim();
    let name_end = inner
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut rest = inner[name_end..].trim_start();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = rest[key_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, r) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(q).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let e = after
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after.len());
                    (&after[..e], &after[e..])
                }
            };
            value = decode_all(v);
            rest = r.trim_start();
        }
        if !key.is_empty() {
            attrs.push((key, value));
        }
    }
    (name, attrs)
}

fn decode_all(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        match tail
            .find(';')
            .and_then(|e| decode_entity(&tail[1..e]).map(|c| (c, e)))
        {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn start_entity(
    name: &str,
    attrs: &[(String, String)],
    stack: &[Open],
    offset: usize,
) -> Result<Value, String> {
    let kind = match name {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "tg-spoiler" => "spoiler",
        "span" => {
            if attr(attrs, "class") == Some("tg-spoiler") {
                "spoiler"
            } else {
                return Err("Tag \"span\" must have class \"tg-spoiler\"".to_string());
            }
        }
        "code" => "code",
        "pre" => "pre",
        "blockquote" => {
            if attr(attrs, "expandable").is_some() {
                "expandable_blockquote"
            } else {
                "blockquote"
            }
        }
        "a" => {
            let href = attr(attrs, "href").unwrap_or("");
            if let Some(id) = href.strip_prefix("tg://user?id=") {
                let id: i64 = id
                    .parse()
                    .map_err(|_| format!("Can't parse user identifier at byte offset {offset}"))?;
                return Ok(
                    json!({"type": "text_mention", "user": {"id": id, "is_bot": false, "first_name": ""}}),
                );
            }
            return Ok(json!({"type": "text_link", "url": href}));
        }
        "tg-emoji" => {
            let id = attr(attrs, "emoji-id").ok_or_else(|| {
                format!("Custom emoji identifier must be specified at byte offset {offset}")
            })?;
            return Ok(json!({"type": "custom_emoji", "custom_emoji_id": id}));
        }
        _ => {
            return Err(format!(
                "Unsupported start tag \"{name}\" at byte offset {offset}"
            ))
        }
    };
    if stack
        .iter()
        .any(|o| o.name == "pre" || (o.name == "code" && o.entity.is_some()))
        && name != "code"
    {
        // Telegram ignores nested formatting inside pre/code; keep the text.
        return Ok(json!({"type": "__ignored"}));
    }
    Ok(json!({ "type": kind }))
}

/// Drops the placeholder entities used for formatting Telegram ignores.
pub fn clean(entities: Vec<Value>) -> Vec<Value> {
    entities
        .into_iter()
        .filter(|e| e["type"] != "__ignored")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> (String, Vec<Value>) {
        let (t, e) = parse(s).expect("parses");
        (t, clean(e))
    }

    #[test]
    fn plain_bold_link_and_escapes() {
        let (t, e) =
            ok("Send <b>1.5 SOL</b> to <a href=\"https://x.io/?a=1&amp;b=2\">x</a> &lt;ok&gt;");
        assert_eq!(t, "Send 1.5 SOL to x <ok>");
        assert_eq!(e[0], json!({"type":"bold","offset":5,"length":7}));
        assert_eq!(
            e[1],
            json!({"type":"text_link","url":"https://x.io/?a=1&b=2","offset":16,"length":1})
        );
    }

    #[test]
    fn offsets_count_utf16_units() {
        let (t, e) = ok("💰 <i>é</i>");
        assert_eq!(t, "💰 é");
        assert_eq!(e[0]["offset"], 3);
        assert_eq!(e[0]["length"], 1);
    }

    #[test]
    fn pre_with_language() {
        let (t, e) = ok("<pre><code class=\"language-rust\">fn x</code></pre>");
        assert_eq!(t, "fn x");
        assert_eq!(
            e,
            vec![json!({"type":"pre","language":"rust","offset":0,"length":4})]
        );
    }

    #[test]
    fn errors_match_telegram() {
        assert_eq!(
            parse("hi <foo>x</foo>").unwrap_err(),
            "Unsupported start tag \"foo\" at byte offset 3"
        );
        assert_eq!(
            parse("<b>x").unwrap_err(),
            "Can't find end tag corresponding to start tag \"b\""
        );
        assert_eq!(
            parse("<b>x</i>").unwrap_err(),
            "Unmatched end tag at byte offset 4, expected \"</b>\", found \"</i>\""
        );
        assert!(parse("a <br> b").is_err());
        assert!(parse("<span>x</span>").is_err());
        assert!(parse("<b").is_err());
    }
}
