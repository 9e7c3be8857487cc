//! Finds the line of a key path (`service[1].check[0].max_age`) in the TOML text,
//! and reports keys the schema does not know, all at once.

use super::raw::schema;
use std::fmt;
use toml_edit::{Document, Item, Table, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A key path from the document root, like `service[1].check[0].max_age`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        KeyPath(Vec::new())
    }
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_string()));
        KeyPath(v)
    }
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        KeyPath(v)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Where a node of the document sits.
enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
    Table(&'a Table),
}

/// The 1-based line of `path` in the document, or of its nearest ancestor that exists.
pub fn line_of(doc: &Document<String>, text: &str, path: &KeyPath) -> Option<usize> {
    let mut node = Node::Table(doc.as_table());
    let mut best: Option<usize> = None;
    for seg in &path.0 {
        let next = match (&node, seg) {
            (Node::Table(t), Seg::Key(k)) => key_in_table(t, k, &mut best),
            (Node::Item(Item::Table(t)), Seg::Key(k)) => key_in_table(t, k, &mut best),
            (Node::Item(Item::Value(Value::InlineTable(t))), Seg::Key(k))
            | (Node::Value(Value::InlineTable(t)), Seg::Key(k)) => {
                t.get_key_value(k).map(|(key, item)| {
                    if let Some(s) = key.span() {
                        best = Some(s.start);
                    }
                    Node::Item(item)
                })
            }
            (Node::Item(Item::ArrayOfTables(a)), Seg::Index(i)) => a.get(*i).map(|t| {
                if let Some(s) = t.span() {
                    best = Some(s.start);
                }
                Node::Table(t)
            }),
            (Node::Item(Item::Value(Value::Array(a))), Seg::Index(i))
            | (Node::Value(Value::Array(a)), Seg::Index(i)) => a.get(*i).map(|v| {
                if let Some(s) = v.span() {
                    best = Some(s.start);
                }
                Node::Value(v)
            }),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    best.map(|offset| line_at(text, offset))
}

fn key_in_table<'a>(t: &'a Table, k: &str, best: &mut Option<usize>) -> Option<Node<'a>> {
    t.get_key_value(k).map(|(key, item)| {
        if let Some(s) = key.span().or_else(|| item.span()) {
            *best = Some(s.start);
        }
        Node::Item(item)
    })
}

/// The deepest key whose value holds byte `offset` (where a type error points).
pub fn key_at(doc: &Document<String>, offset: usize) -> Option<KeyPath> {
    table_at(doc.as_table(), KeyPath::root(), offset)
}

fn holds(span: Option<std::ops::Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end)
}

fn table_at(t: &Table, path: KeyPath, offset: usize) -> Option<KeyPath> {
    for (k, item) in t.iter() {
        let here = path.key(k);
        let found = match item {
            Item::Value(v) if holds(v.span(), offset) => {
                Some(value_at(v, here.clone(), offset).unwrap_or(here))
            }
            Item::Table(sub) => table_at(sub, here, offset),
            Item::ArrayOfTables(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, sub)| table_at(sub, here.index(i), offset)),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn value_at(v: &Value, path: KeyPath, offset: usize) -> Option<KeyPath> {
    match v {
        Value::InlineTable(t) => t.iter().find_map(|(k, v)| {
            holds(v.span(), offset).then(|| value_at(v, path.key(k), offset).unwrap_or(path.key(k)))
        }),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| {
            holds(v.span(), offset)
                .then(|| value_at(v, path.index(i), offset).unwrap_or(path.index(i)))
        }),
        _ => None,
    }
}

/// 1-based line number of a byte offset.
pub fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Every key the schema does not know, with its path.
pub fn unknown_keys(doc: &Document<String>) -> Vec<KeyPath> {
    let mut out = Vec::new();
    let root = KeyPath::root();
    let table = doc.as_table();
    walk_keys(table_entries(table), schema::ROOT, &root, &mut out);
    for (name, allowed) in [
        ("daemon", schema::DAEMON),
        ("memory", schema::MEMORY),
        ("llm", schema::LLM),
        ("notify", schema::NOTIFY),
        ("agent", schema::AGENT),
    ] {
        if let Some(item) = table.get(name) {
            walk_keys(item_entries(item), allowed, &root.key(name), &mut out);
        }
    }
    for (i, svc) in array_items(table.get("service")).into_iter().enumerate() {
        let sp = root.key("service").index(i);
        walk_keys(item_entries(&svc), schema::SERVICE, &sp, &mut out);
        if let Some(b) = get(&svc, "restart_budget") {
            walk_keys(
                item_entries(&b),
                schema::BUDGET,
                &sp.key("restart_budget"),
                &mut out,
            );
        }
        if let Some(r) = get(&svc, "restart") {
            walk_keys(
                item_entries(&r),
                schema::RESTART,
                &sp.key("restart"),
                &mut out,
            );
        }
        for (j, c) in array_items(get(&svc, "check").as_ref())
            .into_iter()
            .enumerate()
        {
            walk_keys(
                item_entries(&c),
                schema::CHECK,
                &sp.key("check").index(j),
                &mut out,
            );
        }
        for (j, r) in array_items(get(&svc, "on_recurrence").as_ref())
            .into_iter()
            .enumerate()
        {
            walk_keys(
                item_entries(&r),
                schema::RECURRENCE,
                &sp.key("on_recurrence").index(j),
                &mut out,
            );
        }
    }
    for (i, dep) in array_items(table.get("dependency")).into_iter().enumerate() {
        let dp = root.key("dependency").index(i);
        walk_keys(item_entries(&dep), schema::DEPENDENCY, &dp, &mut out);
        for (j, c) in array_items(get(&dep, "check").as_ref())
            .into_iter()
            .enumerate()
        {
            walk_keys(
                item_entries(&c),
                schema::CHECK,
                &dp.key("check").index(j),
                &mut out,
            );
        }
    }
    out
}

fn walk_keys(keys: Vec<String>, allowed: &[&str], at: &KeyPath, out: &mut Vec<KeyPath>) {
    for k in keys {
        if !allowed.contains(&k.as_str()) {
            out.push(at.key(&k));
        }
    }
}

fn table_entries(t: &Table) -> Vec<String> {
    t.iter().map(|(k, _)| k.to_string()).collect()
}

fn item_entries(item: &Item) -> Vec<String> {
    match item {
        Item::Table(t) => table_entries(t),
        Item::Value(Value::InlineTable(t)) => t.iter().map(|(k, _)| k.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn get(item: &Item, key: &str) -> Option<Item> {
    match item {
        Item::Table(t) => t.get(key).cloned(),
        Item::Value(Value::InlineTable(t)) => t.get(key).map(|v| Item::Value(v.clone())),
        _ => None,
    }
}

/// The elements of an array of tables (`[[service]]`) or an inline array of tables.
fn array_items(item: Option<&Item>) -> Vec<Item> {
    match item {
        Some(Item::ArrayOfTables(a)) => a.iter().map(|t| Item::Table(t.clone())).collect(),
        Some(Item::Value(Value::Array(a))) => a.iter().map(|v| Item::Value(v.clone())).collect(),
        _ => Vec::new(),
    }
}
