//! The one published routing table: a single `ArcSwap` cell behind two handles. The
//! [`TableWriter`] (one, not `Clone`, owned by the updater) swaps whole tables in; every
//! other part of the server holds a [`TableReader`] and only loads.
//!
//! Making the writer a type keeps the invariant "exactly one writer" checked by the
//! compiler instead of by convention: nothing that holds a reader can publish.

use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use super::RoutingTable;

/// Make the cell, holding `first`, and its two handles.
pub fn publish(first: RoutingTable) -> (TableWriter, TableReader) {
    let cell = Arc::new(ArcSwap::from_pointee(first));
    (TableWriter { cell: cell.clone() }, TableReader { cell })
}

/// The only handle that can replace the table. Deliberately not `Clone`.
#[derive(Debug)]
pub struct TableWriter {
    cell: Arc<ArcSwap<RoutingTable>>,
}

impl TableWriter {
    /// Publish `table`: every load after this sees it, whole.
    pub fn store(&self, table: Arc<RoutingTable>) {
        self.cell.store(table);
    }

    /// The table published last, which the next one is built from.
    pub fn current(&self) -> Arc<RoutingTable> {
        self.cell.load_full()
    }

    /// Another read handle on the same cell.
    pub fn reader(&self) -> TableReader {
        TableReader {
            cell: self.cell.clone(),
        }
    }
}

/// A read handle: cheap to clone, never blocks, never writes.
#[derive(Debug, Clone)]
pub struct TableReader {
    cell: Arc<ArcSwap<RoutingTable>>,
}

impl TableReader {
    /// The current table for one query: lock-free and cheap (no reference count
    /// traffic in the common case), so the query path uses this.
    #[inline]
    pub fn load(&self) -> Guard<Arc<RoutingTable>> {
        self.cell.load()
    }

    /// The current table as an owned `Arc`, for holders that keep it across awaits.
    pub fn load_full(&self) -> Arc<RoutingTable> {
        self.cell.load_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_what_the_writer_stores() {
        let (writer, reader) = publish(RoutingTable::default());
        let other = writer.reader();
        assert_eq!(reader.load().epoch, 0);
        let next = RoutingTable {
            epoch: 5,
            ..RoutingTable::default()
        };
        writer.store(Arc::new(next));
        assert_eq!(reader.load().epoch, 5);
        assert_eq!(other.load_full().epoch, 5);
        assert_eq!(writer.current().epoch, 5);
    }
}
