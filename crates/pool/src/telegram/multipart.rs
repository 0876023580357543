//! `multipart/form-data` bodies (RFC 7578) for the Bot API's file uploads
//! (`sendPhoto`): text fields and file parts, with a random boundary that is
//! checked not to occur in any part.
//!
//! The body may hold secrets (a QR code, its caption); the builder wipes its
//! own buffer when dropped, and [`Form::finish`] hands the bytes over in a
//! [`Zeroizing`] vector.

use zeroize::Zeroizing;

/// Why a body could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// No randomness for the boundary.
    #[error("no system randomness for a multipart boundary")]
    NoRandomness,
    /// A field name, file name or content type holds a character that would
    /// break the part's headers (quotes, control characters, non-ASCII).
    #[error("multipart header value is not plain ASCII")]
    BadHeaderValue,
}

enum Part<'a> {
    Text {
        name: &'a str,
        value: &'a [u8],
    },
    File {
        name: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        data: &'a [u8],
    },
}

/// A form being built; parts are borrowed until [`Form::finish`].
#[derive(Default)]
pub struct Form<'a> {
    parts: Vec<Part<'a>>,
}

fn header_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| (b.is_ascii_graphic() && b != b'"' && b != b'\\') || b == b' ')
}

impl<'a> Form<'a> {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a text field.
    pub fn text(mut self, name: &'a str, value: &'a str) -> Self {
        self.parts.push(Part::Text {
            name,
            value: value.as_bytes(),
        });
        self
    }

    /// Adds a file part.
    pub fn file(
        mut self,
        name: &'a str,
        file_name: &'a str,
        content_type: &'a str,
        data: &'a [u8],
    ) -> Self {
        self.parts.push(Part::File {
            name,
            file_name,
            content_type,
            data,
        });
        self
    }

    /// The `Content-Type` header value and the body.
    pub fn finish(self) -> Result<(String, Zeroizing<Vec<u8>>), MultipartError> {
        for p in &self.parts {
            let ok = match p {
                Part::Text { name, .. } => header_safe(name),
                Part::File {
                    name,
                    file_name,
                    content_type,
                    ..
                } => header_safe(name) && header_safe(file_name) && header_safe(content_type),
            };
            if !ok {
                return Err(MultipartError::BadHeaderValue);
            }
        }
        // A random 192-bit boundary cannot plausibly occur in a part; it is
        // still checked, since a collision would corrupt the upload.
        let boundary = loop {
            let b = draw_boundary()?;
            let clash = self.parts.iter().any(|p| {
                let data = match p {
                    Part::Text { value, .. } => value,
                    Part::File { data, .. } => data,
                };
                data.windows(b.len()).any(|w| w == b.as_bytes())
            });
            if !clash {
                break b;
            }
        };
        let mut body = Zeroizing::new(Vec::with_capacity(
            self.parts
                .iter()
                .map(|p| match p {
                    Part::Text { value, .. } => value.len(),
                    Part::File { data, .. } => data.len(),
                } + 200)
                .sum::<usize>()
                + 64,
        ));
        for p in &self.parts {
            body.extend_from_slice(b"--");
            body.extend_from_slice(boundary.as_bytes());
            body.extend_from_slice(b"\r\n");
            match p {
                Part::Text { name, value } => {
                    body.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                            .as_bytes(),
                    );
                    body.extend_from_slice(value);
                }
                Part::File {
                    name,
                    file_name,
                    content_type,
                    data,
                } => {
                    body.extend_from_slice(
                        format!(
                            "Content-Disposition: form-data; name=\"{name}\"; \
                             filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(data);
                }
            }
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--");
        body.extend_from_slice(boundary.as_bytes());
        body.extend_from_slice(b"--\r\n");
        Ok((format!("multipart/form-data; boundary={boundary}"), body))
    }
}

/// `custos-` and 48 hex digits.
fn draw_boundary() -> Result<String, MultipartError> {
    let mut bytes = [0u8; 24];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| MultipartError::NoRandomness)?;
    let mut s = String::from("custos-");
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_has_its_parts_between_boundaries() {
        let png = b"\x89PNG\r\n\x1a\n--not-a-boundary\r\n";
        let (ct, body) = Form::new()
            .text("chat_id", "42")
            .text("caption", "<b>x</b>")
            .file("photo", "qr.png", "image/png", png)
            .finish()
            .unwrap();
        let boundary = ct
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap()
            .to_string();
        assert_eq!(boundary.len(), 7 + 48);
        let expected = [
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n").into_bytes(),
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n<b>x</b>\r\n").into_bytes(),
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"qr.png\"\r\nContent-Type: image/png\r\n\r\n").into_bytes(),
            png.to_vec(),
            format!("\r\n--{boundary}--\r\n").into_bytes(),
        ]
        .concat();
        assert_eq!(*body, expected);
        // Another form, another boundary.
        let (ct2, _) = Form::new().text("a", "b").finish().unwrap();
        assert_ne!(ct, ct2);
    }

    #[test]
    fn header_values_that_would_break_a_part_are_refused() {
        for bad in ["a\"b", "a\r\nb", "é", "a\\b"] {
            assert_eq!(
                Form::new().text(bad, "v").finish().err(),
                Some(MultipartError::BadHeaderValue),
                "{bad:?}"
            );
        }
        assert!(Form::new()
            .file("photo", "qr code.png", "image/png", b"x")
            .finish()
            .is_ok());
    }
}
