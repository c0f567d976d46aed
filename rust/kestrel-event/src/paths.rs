//! The path trie: dotted field paths resolved one JSON key at a time.
//!
//! Events of one stream share their shape, so each trie node remembers the
//! position after its last matched child and tries that child first. In the
//! steady state a key costs one short string compare instead of building a
//! dotted path and hashing it.

use ahash::AHashMap;
use kestrel_schema::{FieldId, FieldType};

/// What the decoder knows about a field path, cached on its trie node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    pub field: FieldId,
    pub ty: FieldType,
    /// Bit set of the roles this path plays (timestamp, category, entity).
    pub roles: u8,
    /// Auto-assigned: its type is a guess, so disagreeing values are kept in
    /// a mixed column rather than rejected.
    pub auto: bool,
    /// Outside the decoder's field projection: not stored.
    pub skip: bool,
}

pub(crate) type NodeId = u32;
pub(crate) const ROOT: NodeId = 0;

/// Above this many children a node also keeps a hash index.
const INDEX_THRESHOLD: usize = 32;

struct Node {
    parent: NodeId,
    key: Box<str>,
    children: Vec<(Box<str>, NodeId)>,
    /// Key to position in `children`, for nodes with many children.
    index: Option<AHashMap<Box<str>, usize>>,
    cursor: usize,
    slot: Option<Slot>,
    /// The roles of this path, once worked out (see `Decoder::roles_of`).
    roles: Option<u8>,
    /// Whether any path under this one is stored, once worked out (see
    /// `Decoder::stores_under`).
    stores: Option<bool>,
}

impl Node {
    fn new(parent: NodeId, key: &str) -> Node {
        Node {
            parent,
            key: key.into(),
            children: Vec::new(),
            index: None,
            cursor: 0,
            slot: None,
            roles: None,
            stores: None,
        }
    }
}

pub(crate) struct PathTrie {
    nodes: Vec<Node>,
}

impl PathTrie {
    pub fn new() -> Self {
        PathTrie {
            nodes: vec![Node::new(ROOT, "")],
        }
    }

    /// Called when the walker enters an object at `node`, so the next key is
    /// predicted to be the node's first child.
    #[inline]
    pub fn rewind(&mut self, node: NodeId) {
        self.nodes[node as usize].cursor = 0;
    }

    #[inline]
    pub fn child(&mut self, node: NodeId, key: &str) -> NodeId {
        let n = &mut self.nodes[node as usize];
        if let Some((k, id)) = n.children.get(n.cursor) {
            if crate::bytes::same_bytes(k.as_bytes(), key.as_bytes()) {
                n.cursor += 1;
                return *id;
            }
        }
        let found = match &n.index {
            Some(index) => index.get(key).map(|&pos| (pos, n.children[pos].1)),
            None => n
                .children
                .iter()
                .position(|(k, _)| &**k == key)
                .map(|pos| (pos, n.children[pos].1)),
        };
        if let Some((pos, id)) = found {
            n.cursor = pos + 1;
            return id;
        }
        self.insert(node, key)
    }

    fn insert(&mut self, parent: NodeId, key: &str) -> NodeId {
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node::new(parent, key));
        let p = &mut self.nodes[parent as usize];
        p.children.push((key.into(), id));
        p.cursor = p.children.len();
        if p.children.len() > INDEX_THRESHOLD {
            let index = p.index.get_or_insert_with(AHashMap::new);
            if index.is_empty() {
                index.extend(
                    p.children
                        .iter()
                        .enumerate()
                        .map(|(pos, (k, _))| (k.clone(), pos)),
                );
            } else {
                index.insert(key.into(), p.children.len() - 1);
            }
        }
        id
    }

    /// The dotted path of `node`.
    pub fn path(&self, mut node: NodeId) -> String {
        let mut keys = Vec::new();
        while node != ROOT {
            let n = &self.nodes[node as usize];
            keys.push(&*n.key);
            node = n.parent;
        }
        keys.reverse();
        keys.join(".")
    }

    #[inline]
    pub fn slot(&self, node: NodeId) -> Option<Slot> {
        self.nodes[node as usize].slot
    }

    pub fn set_slot(&mut self, node: NodeId, slot: Slot) {
        self.nodes[node as usize].slot = Some(slot);
    }

    #[inline]
    pub fn roles(&self, node: NodeId) -> Option<u8> {
        self.nodes[node as usize].roles
    }

    pub fn set_roles(&mut self, node: NodeId, roles: u8) {
        self.nodes[node as usize].roles = Some(roles);
    }

    #[inline]
    pub fn stores(&self, node: NodeId) -> Option<bool> {
        self.nodes[node as usize].stores
    }

    pub fn set_stores(&mut self, node: NodeId, stores: bool) {
        self.nodes[node as usize].stores = Some(stores);
    }

    /// Nodes in the trie, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_paths_and_predicts_order() {
        let mut t = PathTrie::new();
        let a = t.child(ROOT, "process");
        let b = t.child(a, "pid");
        let c = t.child(a, "name");
        assert_eq!(t.path(b), "process.pid");
        t.rewind(a);
        assert_eq!(t.child(a, "pid"), b);
        assert_eq!(t.child(a, "name"), c);
        t.rewind(a);
        assert_eq!(t.child(a, "name"), c);
        assert_eq!(t.child(a, "pid"), b);
    }

    #[test]
    fn wide_nodes_use_an_index() {
        let mut t = PathTrie::new();
        let ids: Vec<_> = (0..100).map(|i| t.child(ROOT, &format!("k{i}"))).collect();
        t.rewind(ROOT);
        for i in (0..100).rev() {
            assert_eq!(t.child(ROOT, &format!("k{i}")), ids[i]);
        }
        assert_eq!(t.path(ids[42]), "k42");
    }
}
