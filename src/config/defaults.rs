//! Defaults shared by several tables (a source kind's keys repeat across kinds), in one place
//! so that the kinds agree.

pub(super) fn default_interval() -> u64 {
    900
}

pub(super) fn default_hn_pages() -> u32 {
    5
}

pub(super) fn default_hn_backfill() -> u32 {
    7
}

pub(super) fn default_true() -> bool {
    true
}
