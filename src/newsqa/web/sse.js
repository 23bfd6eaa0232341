// Server-Sent Events parsing for fetch() bodies (EventSource cannot POST), as the HTML standard
// defines it: lines end with CRLF, LF or CR; a blank line dispatches the event; ":" starts a
// comment. Text arrives in network chunks that may split anywhere, even between the CR and the LF
// of one line ending, so a trailing CR is held back until the next chunk shows what follows it.
"use strict";

window.NewsqaSSE = (() => {
  class Parser {
    constructor() {
      this.buf = "";
      this.event = "";
      this.data = [];
    }

    // Events completed by this chunk of text: [{event, data}] with data as a string.
    push(text) {
      this.buf += text;
      const out = [];
      let start = 0;
      for (;;) {
        const cr = this.buf.indexOf("\r", start);
        const lf = this.buf.indexOf("\n", start);
        if (cr < 0 && lf < 0) break;
        let end;
        let next;
        if (cr >= 0 && (lf < 0 || cr < lf)) {
          if (cr === this.buf.length - 1) break; // CR last: an LF may follow in the next chunk
          end = cr;
          next = this.buf[cr + 1] === "\n" ? cr + 2 : cr + 1;
        } else {
          end = lf;
          next = lf + 1;
        }
        this.line(this.buf.slice(start, end), out);
        start = next;
      }
      this.buf = this.buf.slice(start);
      return out;
    }

    // Events completed when the stream ends: only a held-back CR can still end a line; an event
    // without its blank line is incomplete and, as the standard says, discarded.
    end() {
      const out = [];
      if (this.buf.endsWith("\r")) this.line(this.buf.slice(0, -1), out);
      this.buf = "";
      this.event = "";
      this.data = [];
      return out;
    }

    line(line, out) {
      if (line === "") {
        if (this.data.length) out.push({ event: this.event || "message", data: this.data.join("\n") });
        this.event = "";
        this.data = [];
        return;
      }
      if (line.startsWith(":")) return;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
    }
  }

  // Parsed events ({event, data: JSON value}) of a fetch Response; onChunk runs per network chunk.
  async function* read(res, onChunk) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new Parser();
    for (;;) {
      const { value, done } = await reader.read();
      if (onChunk) onChunk();
      const events = done ? parser.push(decoder.decode()).concat(parser.end())
        : parser.push(decoder.decode(value, { stream: true }));
      for (const { event, data } of events) yield { event, data: JSON.parse(data) };
      if (done) return;
    }
  }

  return { Parser, read };
})();
