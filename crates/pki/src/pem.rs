//! Minimal RFC 7468 PEM encoding/decoding with zeroizing buffers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::Error;

/// Encode `der` as a PEM block with 64-column lines and a trailing newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40));
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ascii"));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// One decoded PEM block.
pub(crate) struct Block {
    pub label: String,
    pub der: Zeroizing<Vec<u8>>,
}

/// Decode every PEM block in `text` (text outside blocks is ignored).
pub(crate) fn decode_all(text: &str) -> Result<Vec<Block>, Error> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) else {
            continue;
        };
        let label = label.to_string();
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::new());
        let mut closed = false;
        for l in lines.by_ref() {
            let l = l.trim();
            if l == end {
                closed = true;
                break;
            }
            if l.contains(':') {
                // RFC 1421 headers, e.g. "Proc-Type: 4,ENCRYPTED"
                return Err(Error::Pem(format!("PEM block {label:?} has headers (encrypted legacy PEM is not supported)")));
            }
            body.push_str(l);
        }
        if !closed {
            return Err(Error::Pem(format!("PEM block {label:?} is not terminated")));
        }
        let mut der = Zeroizing::new(Vec::with_capacity(body.len() * 3 / 4));
        STANDARD.decode_vec(body.as_bytes(), &mut der).map_err(|_| Error::Pem(format!("PEM block {label:?} has invalid base64")))?;
        blocks.push(Block { label, der });
    }
    Ok(blocks)
}

/// Decode the first PEM block whose label is one of `labels`.
pub(crate) fn decode_first(text: &str, labels: &[&str]) -> Result<Block, Error> {
    decode_all(text)?
        .into_iter()
        .find(|b| labels.contains(&b.label.as_str()))
        .ok_or_else(|| Error::Pem(format!("no PEM block labelled one of {labels:?}")))
}
