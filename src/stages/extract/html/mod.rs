//! sieve's HTML parser: the page's bytes → the extractor's flat DOM in one pass, with no
//! intermediate tree and no string per node.
//!
//! - [`tokenizer`]: text runs, tags with the attributes the extractor reads, comments and
//!   doctypes, as the HTML standard tokenizes them; text stays spans of the page.
//! - [`builder`]: the standard's tree-construction rules (insertion modes, implied end tags,
//!   the adoption agency, foster parenting out of tables).
//! - [`tree`]: the node arena, which is the DOM itself once in document order.
//!
//! Its trees are checked against html5ever's (the parser sieve used before) on real pages:
//! `reference.rs`, in the tests.

pub mod builder;
mod charref;
mod doctype;
mod entities;
#[cfg(test)]
pub mod reference;
pub mod tags;
pub mod tokenizer;
pub mod tree;
