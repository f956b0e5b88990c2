//! A small YAML writer for the exports (rule files, promtool tests, Argo and Flagger
//! manifests): block mappings and sequences, comments, multi-line block scalars, and
//! every string double-quoted with JSON escapes (valid YAML 1.1 and 1.2), so no value
//! is ever read back as another type. Keys in insertion order, which makes the output
//! deterministic.

/// A YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A string, always double-quoted.
    Str(String),
    /// A number or boolean written as is.
    Raw(String),
    /// A multi-line string as a literal block scalar (`|-`); single lines are quoted.
    Block(String),
    Map(Vec<Entry>),
    Seq(Vec<Node>),
}

/// One mapping entry, with comment lines written above it.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub comments: Vec<String>,
    pub key: String,
    pub value: Node,
}

/// A string node.
pub fn s(v: impl Into<String>) -> Node {
    Node::Str(v.into())
}

/// A number (or boolean) node.
pub fn raw(v: impl ToString) -> Node {
    Node::Raw(v.to_string())
}

/// A mapping from `(key, value)` pairs.
pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Node)>) -> Node {
    Node::Map(
        entries
            .into_iter()
            .map(|(k, v)| Entry {
                comments: Vec::new(),
                key: k.into(),
                value: v,
            })
            .collect(),
    )
}

impl Node {
    /// Adds comment lines above the entry `key` of a mapping.
    pub fn comment(mut self, key: &str, lines: &[&str]) -> Self {
        if let Node::Map(es) = &mut self
            && let Some(e) = es.iter_mut().find(|e| e.key == key)
        {
            e.comments.extend(lines.iter().map(|l| l.to_string()));
        }
        self
    }

    /// The document, ending in a newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            Node::Map(_) | Node::Seq(_) => self.block(&mut out, 0),
            _ => {
                out.push_str(&self.inline());
                out.push('\n');
            }
        }
        out
    }

    fn is_block(&self) -> bool {
        match self {
            Node::Map(es) => !es.is_empty(),
            Node::Seq(items) => !items.is_empty(),
            Node::Block(t) => t.contains('\n'),
            _ => false,
        }
    }

    fn inline(&self) -> String {
        match self {
            Node::Str(v) | Node::Block(v) => quote(v),
            Node::Raw(v) => v.clone(),
            Node::Map(_) => "{}".into(),
            Node::Seq(_) => "[]".into(),
        }
    }

    /// Writes a block node's lines at `indent` spaces.
    fn block(&self, out: &mut String, indent: usize) {
        let pad = " ".repeat(indent);
        match self {
            Node::Map(es) => {
                for e in es {
                    for c in &e.comments {
                        out.push_str(&format!("{pad}# {c}\n").replace(" \n", "\n"));
                    }
                    e.value.entry(out, &pad, &key(&e.key), indent);
                }
            }
            Node::Seq(items) => {
                for item in items {
                    match item {
                        Node::Map(es) if !es.is_empty() => {
                            // The first entry shares the dash's line.
                            let mut first = String::new();
                            item.block(&mut first, indent + 2);
                            out.push_str(&pad);
                            out.push_str("- ");
                            out.push_str(&first[indent + 2..]);
                        }
                        _ if item.is_block() => {
                            out.push_str(&format!("{pad}-\n"));
                            item.block(out, indent + 2);
                        }
                        _ => out.push_str(&format!("{pad}- {}\n", item.inline())),
                    }
                }
            }
            Node::Block(t) => {
                for line in t.lines() {
                    if line.is_empty() {
                        out.push('\n');
                    } else {
                        out.push_str(&format!("{pad}{line}\n"));
                    }
                }
            }
            _ => out.push_str(&format!("{pad}{}\n", self.inline())),
        }
    }

    fn entry(&self, out: &mut String, pad: &str, k: &str, indent: usize) {
        if !self.is_block() {
            out.push_str(&format!("{pad}{k}: {}\n", self.inline()));
            return;
        }
        match self {
            Node::Block(_) => {
                out.push_str(&format!("{pad}{k}: |-\n"));
                self.block(out, indent + 2);
            }
            Node::Seq(_) => {
                out.push_str(&format!("{pad}{k}:\n"));
                self.block(out, indent + 2);
            }
            _ => {
                out.push_str(&format!("{pad}{k}:\n"));
                self.block(out, indent + 2);
            }
        }
    }
}

/// A key: plain when it is a simple name, else quoted.
fn key(k: &str) -> String {
    let plain = !k.is_empty()
        && k.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if plain { k.to_string() } else { quote(k) }
}

/// A double-quoted scalar with JSON escapes.
fn quote(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("\"{}\"", v.escape_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_blocks_with_comments_and_quotes() {
        let doc = map([
            (
                "groups",
                Node::Seq(vec![map([
                    ("name", s("g")),
                    ("interval", s("1m")),
                    (
                        "rules",
                        Node::Seq(vec![map([
                            ("alert", s("A: \"b\"")),
                            ("expr", Node::Block("sum(x)\n  > 1".into())),
                            ("for", s("10m")),
                            ("labels", map([("severity", s("page"))])),
                        ])]),
                    ),
                ])]),
            ),
            ("empty", Node::Seq(vec![])),
            ("n", raw(3)),
            ("a key", s("yes")),
        ])
        .comment("groups", &["first line", ""]);
        assert_eq!(
            doc.render(),
            "# first line\n#\ngroups:\n  - name: \"g\"\n    interval: \"1m\"\n    rules:\n      - alert: \"A: \\\"b\\\"\"\n        expr: |-\n          sum(x)\n            > 1\n        for: \"10m\"\n        labels:\n          severity: \"page\"\nempty: []\nn: 3\n\"a key\": \"yes\"\n"
        );
    }

    #[test]
    fn single_line_blocks_and_scalar_lists_are_inline() {
        let doc = map([
            ("expr", Node::Block("up".into())),
            ("l", Node::Seq(vec![raw(5), raw(25)])),
        ]);
        assert_eq!(doc.render(), "expr: \"up\"\nl:\n  - 5\n  - 25\n");
    }
}
