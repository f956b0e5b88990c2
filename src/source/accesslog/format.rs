//! Log line templates: an nginx `log_format` string or an Envoy format string compiled
//! into literals and fields, and the matcher that cuts a line into the fields' values
//! (each field's value runs up to the next literal), plus the AWS ALB positional
//! tokenizer (space-separated fields, double-quoted ones may hold spaces).

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Lit(String),
    /// A field by the name the user wrote: `$status`, `%RESPONSE_CODE%`.
    Field(String),
}

/// A compiled template: pieces alternate so that no two fields touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub pieces: Vec<Piece>,
}

impl Template {
    /// The fields in order of appearance.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field(f) => Some(f.as_str()),
            Piece::Lit(_) => None,
        })
    }

    /// The index (among fields) of the first field named `name`.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields().position(|f| f == name)
    }

    fn check(pieces: Vec<Piece>) -> Result<Self, String> {
        for w in pieces.windows(2) {
            if let [Piece::Field(a), Piece::Field(b)] = w {
                return Err(format!(
                    "the fields {a} and {b} touch with nothing between them, so a line cannot be split between them (put a space or other text between)"
                ));
            }
        }
        if !pieces.iter().any(|p| matches!(p, Piece::Field(_))) {
            return Err("the format holds no field".into());
        }
        Ok(Self { pieces })
    }

    /// Cuts `line` into the fields' values (in field order), or says where it stops
    /// matching the template.
    pub fn split<'l>(&self, line: &'l str, out: &mut Vec<&'l str>) -> Result<(), String> {
        out.clear();
        let mut rest = line;
        let mut i = 0;
        while i < self.pieces.len() {
            match &self.pieces[i] {
                Piece::Lit(l) => {
                    rest = rest.strip_prefix(l.as_str()).ok_or_else(|| {
                        format!(
                            "the line does not match the format: expected `{}` at column {}",
                            l.escape_debug(),
                            line.len() - rest.len() + 1
                        )
                    })?;
                }
                Piece::Field(name) => match self.pieces.get(i + 1) {
                    Some(Piece::Lit(next)) => {
                        let end = rest.find(next.as_str()).ok_or_else(|| {
                            format!(
                                "the line ends inside field {name}: `{}` after it is missing",
                                next.escape_debug()
                            )
                        })?;
                        out.push(&rest[..end]);
                        rest = &rest[end..];
                    }
                    _ => {
                        out.push(rest);
                        rest = "";
                    }
                },
            }
            i += 1;
        }
        if !rest.is_empty() {
            return Err(format!(
                "the line has text after the format's end: `{}`",
                short(rest)
            ));
        }
        Ok(())
    }
}

fn short(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Compiles an nginx `log_format` string: `$name` and `${name}` are variables (letters,
/// digits, underscores), everything else is literal text. The string is the one in
/// nginx.conf with the quoting of the config file undone (several quoted parts joined).
pub fn nginx(format: &str) -> Result<Template, String> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            lit.push(c);
            continue;
        }
        let mut name = String::new();
        let braced = chars.peek().is_some_and(|(_, c)| *c == '{');
        if braced {
            chars.next();
        }
        while let Some(&(_, c)) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            if chars.peek().map(|(_, c)| *c) != Some('}') {
                return Err(format!("`${{{name}` is not closed with `}}`"));
            }
            chars.next();
        }
        if name.is_empty() {
            lit.push('$');
            continue;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        pieces.push(Piece::Field(format!("${name}")));
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Template::check(pieces)
}

/// Envoy's default access log format (the text format Envoy writes when none is set).
pub const ENVOY_DEFAULT: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

/// Compiles an Envoy format string: `%OPERATOR%`, `%OPERATOR(ARGS)%` and
/// `%OPERATOR(ARGS):LEN%` are fields (named without the `:LEN` truncation), `%%` is a
/// literal `%`, a trailing newline (real or written `\n`) ends the line.
pub fn envoy(format: &str) -> Result<Template, String> {
    let format = format
        .strip_suffix("\\n")
        .or_else(|| format.strip_suffix('\n'))
        .unwrap_or(format);
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let mut rest = format;
    while let Some(pos) = rest.find('%') {
        lit.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('%') {
            lit.push('%');
            rest = r;
            continue;
        }
        // The operator runs to the next `%` outside parentheses.
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                '%' if depth == 0 => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| format!("`%{}` is not closed with `%`", short(after)))?;
        let op = &after[..end];
        if op.is_empty() || !op.starts_with(|c: char| c.is_ascii_uppercase()) {
            return Err(format!("`%{op}%` is not an Envoy command operator"));
        }
        let name = match op.rfind(':') {
            Some(c)
                if op[c + 1..].chars().all(|d| d.is_ascii_digit()) && op[..c].ends_with(')') =>
            {
                &op[..c]
            }
            _ => op,
        };
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        pieces.push(Piece::Field(format!("%{name}%")));
        rest = &after[end + 1..];
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Template::check(pieces)
}

/// The fields of an AWS Application Load Balancer access log entry, in order, as AWS
/// documents them.
pub const ALB_FIELDS: &[&str] = &[
    "type",
    "time",
    "elb",
    "client:port",
    "target:port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target:port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
];

/// Splits an ALB entry at spaces; a field in double quotes may hold spaces (and `\"`);
/// its quotes are removed. Fields AWS adds at the end in later years are kept.
pub fn alb_split<'l>(line: &'l str, out: &mut Vec<&'l str>) -> Result<(), String> {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            if j >= b.len() {
                return Err(format!(
                    "field {} opens a quote that is never closed",
                    ALB_FIELDS.get(out.len()).copied().unwrap_or("(extra)")
                ));
            }
            out.push(&line[start..j]);
            i = j + 1;
        } else {
            let start = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            out.push(&line[start..i]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_combined_splits_into_its_variables() {
        let t = nginx(
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"",
        )
        .unwrap();
        let mut v = Vec::new();
        t.split(
            "127.0.0.1 - - [05/Dec/2026:11:05:32 +0000] \"GET /a?b=1 HTTP/1.1\" 200 2 \"-\" \"curl/8.0 x\"",
            &mut v,
        )
        .unwrap();
        assert_eq!(
            v,
            [
                "127.0.0.1",
                "-",
                "05/Dec/2026:11:05:32 +0000",
                "GET /a?b=1 HTTP/1.1",
                "200",
                "2",
                "-",
                "curl/8.0 x"
            ]
        );
        assert_eq!(t.field_index("$status"), Some(4));
    }

    #[test]
    fn a_line_that_does_not_match_says_where() {
        let t = nginx("$msec [$status]").unwrap();
        let mut v = Vec::new();
        let e = t.split("1.5 200", &mut v).unwrap_err();
        assert!(
            e.contains("inside field $msec: ` [` after it is missing"),
            "{e}"
        );
        let e = t.split("1.5 [200", &mut v).unwrap_err();
        assert!(e.contains("inside field $status"), "{e}");
        let t = nginx("[$msec]").unwrap();
        let e = t.split("1.5]", &mut v).unwrap_err();
        assert!(e.contains("expected `[` at column 1"), "{e}");
        let t = nginx("$msec [$status]").unwrap();
        let e = t.split("1.5 [200] x", &mut v).unwrap_err();
        assert!(e.contains("after the format's end"), "{e}");
        assert!(nginx("$status$msec").unwrap_err().contains("touch"));
        assert_eq!(
            nginx("${status}x").unwrap().pieces,
            [Piece::Field("$status".into()), Piece::Lit("x".into())]
        );
    }

    #[test]
    fn envoy_default_format_compiles_and_splits() {
        let t = envoy(ENVOY_DEFAULT).unwrap();
        let mut v = Vec::new();
        t.split("[2016-04-15T20:17:00.310Z] \"POST /api/v1/locations HTTP/2\" 204 - 154 0 226 100 \"10.0.35.28\" \"nsq2http\" \"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2\" \"locations\" \"tcp://10.0.2.1:80\"", &mut v).unwrap();
        assert_eq!(v[0], "2016-04-15T20:17:00.310Z");
        assert_eq!(v[2], "/api/v1/locations");
        assert_eq!(t.field_index("%RESPONSE_CODE%"), Some(4));
        assert_eq!(v[4], "204");
        assert_eq!(v[8], "226");
        assert_eq!(v[14], "tcp://10.0.2.1:80");
        assert_eq!(
            envoy("%REQ(USER-AGENT):10% %%x").unwrap().pieces,
            [
                Piece::Field("%REQ(USER-AGENT)%".into()),
                Piece::Lit(" %x".into())
            ]
        );
        assert!(envoy("%START_TIME").is_err());
    }

    #[test]
    fn alb_fields_split_at_spaces_outside_quotes() {
        let mut v = Vec::new();
        alb_split(
            "http 2018 \"GET http://x:80/ HTTP/1.1\" \"a \\\" b\" -",
            &mut v,
        )
        .unwrap();
        assert_eq!(
            v,
            ["http", "2018", "GET http://x:80/ HTTP/1.1", "a \\\" b", "-"]
        );
        assert!(alb_split("http \"open", &mut v).is_err());
    }
}
