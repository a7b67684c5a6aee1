//! What a policy kind needs of the node tree it is part of, without naming the tree:
//! answer ids, and the `Branch` operations its children (and the node it builds) have.
//! `node::Node` is the one implementation; the kinds are generic over it so that the
//! closed enum can hold them without the kind files importing it back (an import
//! cycle), and dispatch stays static: each kind is compiled for `Node` alone.

use super::query::Query;

/// Index into `Compiled::answers`.
pub(crate) type AnswerId = u32;

/// A node of a compiled policy's tree, as the kinds see their members.
pub(crate) trait Branch: Sized {
    /// The same for every client: an answer, or nothing up (`None`).
    fn fixed(answer: Option<AnswerId>) -> Self;

    /// `Some(answer)` when this node is fixed (the same for every client).
    fn as_fixed(&self) -> Option<Option<AnswerId>>;

    /// This client's answer, or `None` when nothing reachable from here is up for it.
    fn pick(&self, q: &mut Query<'_>) -> Option<AnswerId>;

    /// The answer a client with no ECS, no known location and no luck gets: what logs
    /// and status show. Deterministic, unlike `pick`.
    fn preferred(&self) -> Option<AnswerId>;

    /// Never `None` for any client.
    fn always_answers(&self) -> bool;

    /// Nothing below this node is ever up.
    fn is_down(&self) -> bool {
        matches!(self.as_fixed(), Some(None))
    }
}

/// The same fixed answer for every child, when there is one: lets a decision that would
/// change nothing be folded away (and its answer carry ECS scope 0).
pub(crate) fn uniform<'n, N: Branch + 'n>(children: impl IntoIterator<Item = &'n N>) -> Option<N> {
    let mut it = children.into_iter();
    let first = it.next()?.as_fixed()?;
    it.all(|n| n.as_fixed() == Some(first))
        .then_some(N::fixed(first))
}
