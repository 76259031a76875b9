//! A Server-Sent Events reader: bytes in, events out, as the HTML Living Standard's "Parsing an
//! event stream" says (html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
//! lines end in CRLF, LF or CR; a line starting with `:` is a comment; `data` lines of one event
//! are joined with LF; a blank line dispatches the event, and an event with no `data` is none;
//! an unfinished event at the end of the stream is dropped. MCP's streamable HTTP puts one
//! JSON-RPC message in each event's data (modelcontextprotocol.io, specification 2025-06-18,
//! "Basic / Transports", "Sending Messages to the Server").

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:`; `None` is the default type, `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with LF.
    pub data: String,
    /// `id:`, when the event set one.
    pub id: Option<String>,
}

/// The parser's state between chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of a line not ended yet.
    pending: Vec<u8>,
    /// A CR ended the last chunk: an LF first in the next one belongs to it.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut bytes = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' | b'\r' => {
                    self.pending.extend_from_slice(&bytes[start..i]);
                    let line = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
                    if let Some(e) = self.line(&line) {
                        out.push(e);
                    }
                    if bytes[i] == b'\r' {
                        if i + 1 == bytes.len() {
                            self.after_cr = true;
                        } else if bytes[i + 1] == b'\n' {
                            i += 1;
                        }
                    }
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        self.pending.extend_from_slice(&bytes[start.min(bytes.len())..]);
        out
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = self.event.take();
            return self.data.take().map(|mut data| {
                data.pop(); // the LF after the last `data` line
                SseEvent { event, data, id: self.id.clone() }
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                data.push_str(value);
                data.push('\n');
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        chunks.iter().flat_map(|c| p.feed(c)).collect()
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn events_split_anywhere_and_every_line_ending_read_alike() {
        let stream = b"event: message\r\nid: 7\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: keep-alive\n\ndata: two\r\rdata:three\n\n";
        let whole = all(&[stream]);
        assert_eq!(data(&whole), ["{\"a\":\n1}", "two", "three"]);
        assert_eq!(whole[0].event.as_deref(), Some("message"));
        assert_eq!(whole[0].id.as_deref(), Some("7"));
        for cut in 0..stream.len() {
            assert_eq!(all(&[&stream[..cut], &stream[cut..]]), whole, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(all(&bytewise), whole);
    }

    #[test]
    fn an_event_without_data_or_unfinished_is_none() {
        assert!(all(&[b"event: ping\n\n"]).is_empty());
        assert!(all(&[b"data: half"]).is_empty());
        assert_eq!(data(&all(&[b"data\n\n"])), [""]);
    }
}
