//! The table of CRIU image kinds: name, magic, head magic, file names,
//! entry messages and extra payloads. This one table drives the framing,
//! the JSON codec, `criu-images info` and the documentation.

use crate::proto::message_ids as m;
use crate::proto::MessageId;

/// `IMG_COMMON`: the head magic of ordinary images.
pub const IMG_COMMON_MAGIC: u32 = 0x5456_4319;
/// `IMG_SERVICE`: the head magic of `stats-*` and `irmap-cache`.
pub const IMG_SERVICE_MAGIC: u32 = 0x5510_5940;
/// Magic of CRIU's kernel-features cache (`criu.kdat`), which is not an image.
pub const KDAT_MAGIC: u32 = 0x5702_3458;

/// Which head magic precedes the type magic.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Head {
    /// No head magic (`inventory.img`, and every image of format v1).
    None,
    /// `IMG_COMMON` (0x54564319).
    Common,
    /// `IMG_SERVICE` (0x55105940).
    Service,
}

impl Head {
    /// The head magic value, if any.
    pub fn magic(self) -> Option<u32> {
        match self {
            Head::None => None,
            Head::Common => Some(IMG_COMMON_MAGIC),
            Head::Service => Some(IMG_SERVICE_MAGIC),
        }
    }
}

/// How the entries of an image are laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// Every entry is one message of this type.
    Entries(MessageId),
    /// A `pagemap_head`, then `pagemap_entry` records.
    Pagemap,
    /// A `ghost_file_entry`, then either `ghost_chunk_entry` records each
    /// followed by its data (`chunks: true`) or the whole file's data.
    GhostFile,
}

/// Raw bytes that follow an entry's message in the image.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExtraKind {
    /// Nothing follows the message.
    None,
    /// `pipe_data_entry.bytes` bytes of pipe or FIFO contents.
    PipeData,
    /// `sk_packet_entry.length` bytes of one queued socket packet.
    SkQueue,
    /// `inq_len` bytes of the receive queue, then `outq_len` of the send queue.
    TcpStream,
    /// `keys_bytes + values_bytes` bytes of BPF map keys and values.
    BpfmapData,
    /// `nsems` host-endian u16 semaphore values, padded to 8 bytes.
    IpcSem,
    /// `qnum` records of (u32 size, `ipc_msg`, data padded to 8 bytes).
    IpcMsg,
    /// `size` bytes of segment contents padded to 4, unless `in_pagemaps`.
    IpcShm,
}

macro_rules! image_kinds {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $magic:literal, $head:ident, $layout:expr, $extra:ident, [$($file:literal),+ $(,)?]; )+) => {
        /// A CRIU protobuf image type, identified by its type magic.
        ///
        /// Names are those of CRIU's `magic.h` without `_MAGIC`, as crit
        /// prints them in `"magic"`.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[non_exhaustive]
        pub enum ImageKind {
            $( $(#[$doc])* $variant, )+
        }

        static KINDS: &[KindInfo] = &[
            $( KindInfo {
                kind: ImageKind::$variant,
                name: $name,
                magic: $magic,
                head: Head::$head,
                layout: $layout,
                extra: ExtraKind::$extra,
                files: &[$($file),+],
            }, )+
        ];
    };
}

struct KindInfo {
    kind: ImageKind,
    name: &'static str,
    magic: u32,
    head: Head,
    layout: Layout,
    extra: ExtraKind,
    files: &'static [&'static str],
}

use Layout::{Entries as E, GhostFile, Pagemap};

image_kinds! {
    /// `inventory.img`: CRIU version, root task ids, dump options.
    Inventory = "INVENTORY", 0x5831_3116, None, E(m::INVENTORY_ENTRY), None, ["inventory.img"];
    /// `pstree.img`: the process tree.
    Pstree = "PSTREE", 0x5027_3030, Common, E(m::PSTREE_ENTRY), None, ["pstree.img"];
    /// `fdinfo-<files_id>.img`: file descriptors of a files table.
    Fdinfo = "FDINFO", 0x5621_3732, Common, E(m::FDINFO_ENTRY), None, ["fdinfo-%u.img"];
    /// `pagemap-<pid>.img`, `pagemap-shmem-<shmid>.img`: where memory pages are.
    Pagemap = "PAGEMAP", 0x5608_4025, Common, Pagemap, None, ["pagemap-%lu.img", "pagemap-shmem-%lu.img", "pages-shmem-%ld.img"];
    /// `core-<tid>.img`: registers, signals, task state of one thread.
    Core = "CORE", 0x5505_3847, Common, E(m::CORE_ENTRY), None, ["core-%u.img"];
    /// `ids-<pid>.img`: kernel object and namespace ids of a task.
    Ids = "IDS", 0x5443_2030, Common, E(m::TASK_KOBJ_IDS_ENTRY), None, ["ids-%u.img"];
    /// `vmas-<pid>.img`: memory areas (legacy; now inside `mm`).
    Vmas = "VMAS", 0x5412_3737, Common, E(m::VMA_ENTRY), None, ["vmas-%u.img"];
    /// `pipes.img`: pipe ends.
    Pipes = "PIPES", 0x5651_3555, Common, E(m::PIPE_ENTRY), None, ["pipes.img"];
    /// `pipes-data.img`: buffered pipe contents.
    PipesData = "PIPES_DATA", 0x5645_3709, Common, E(m::PIPE_DATA_ENTRY), PipeData, ["pipes-data.img"];
    /// `fifo.img`: named pipes.
    Fifo = "FIFO", 0x5836_4939, Common, E(m::FIFO_ENTRY), None, ["fifo.img"];
    /// `fifo-data.img`: buffered FIFO contents.
    FifoData = "FIFO_DATA", 0x5933_3054, Common, E(m::PIPE_DATA_ENTRY), PipeData, ["fifo-data.img"];
    /// `sigacts-<pid>.img`: signal handlers (legacy; now inside `core`).
    Sigact = "SIGACT", 0x5534_4201, Common, E(m::SA_ENTRY), None, ["sigacts-%u.img"];
    /// `unixsk.img`: unix sockets (legacy; now inside `files`).
    Unixsk = "UNIXSK", 0x5437_3943, Common, E(m::UNIX_SK_ENTRY), None, ["unixsk.img"];
    /// `inetsk.img`: inet sockets (legacy; now inside `files`).
    Inetsk = "INETSK", 0x5644_3851, Common, E(m::INET_SK_ENTRY), None, ["inetsk.img"];
    /// `packetsk.img`: packet sockets (legacy; now inside `files`).
    Packetsk = "PACKETSK", 0x6045_4618, Common, E(m::PACKET_SOCK_ENTRY), None, ["packetsk.img"];
    /// `itimers-<pid>.img`: interval timers (legacy; now inside `core`).
    Itimers = "ITIMERS", 0x5746_4056, Common, E(m::ITIMER_ENTRY), None, ["itimers-%u.img"];
    /// `posix-timers-<pid>.img`: POSIX timers (legacy; now inside `core`).
    PosixTimers = "POSIX_TIMERS", 0x5260_3957, Common, E(m::POSIX_TIMER_ENTRY), None, ["posix-timers-%u.img"];
    /// `sk-queues.img`: packets queued on sockets.
    SkQueues = "SK_QUEUES", 0x5626_4026, Common, E(m::SK_PACKET_ENTRY), SkQueue, ["sk-queues.img"];
    /// `utsns-<nsid>.img`: host and domain name.
    Utsns = "UTSNS", 0x5447_3203, Common, E(m::UTSNS_ENTRY), None, ["utsns-%u.img"];
    /// `creds-<pid>.img`: credentials (legacy; now inside `core`).
    Creds = "CREDS", 0x5402_3547, Common, E(m::CREDS_ENTRY), None, ["creds-%u.img"];
    /// `ipcns-var-<nsid>.img`: IPC namespace sysctls.
    IpcVar = "IPC_VAR", 0x5311_5007, Common, E(m::IPC_VAR_ENTRY), None, ["ipcns-var-%u.img"];
    /// `ipcns-shm-<nsid>.img`: SysV shared memory segments.
    IpcnsShm = "IPCNS_SHM", 0x4628_3044, Common, E(m::IPC_SHM_ENTRY), IpcShm, ["ipcns-shm-%u.img"];
    /// `ipcns-msg-<nsid>.img`: SysV message queues.
    IpcnsMsg = "IPCNS_MSG", 0x5545_3737, Common, E(m::IPC_MSG_ENTRY), IpcMsg, ["ipcns-msg-%u.img"];
    /// `ipcns-sem-<nsid>.img`: SysV semaphore sets.
    IpcnsSem = "IPCNS_SEM", 0x5957_3019, Common, E(m::IPC_SEM_ENTRY), IpcSem, ["ipcns-sem-%u.img"];
    /// `reg-files.img`: regular files (legacy; now inside `files`).
    RegFiles = "REG_FILES", 0x5036_3636, Common, E(m::REG_FILE_ENTRY), None, ["reg-files.img"];
    /// `ext-files.img`: files restored by plugins.
    ExtFiles = "EXT_FILES", 0x5925_5641, Common, E(m::EXT_FILE_ENTRY), None, ["ext-files.img"];
    /// `fs-<pid>.img`: cwd, root and umask of a task.
    Fs = "FS", 0x5140_3912, Common, E(m::FS_ENTRY), None, ["fs-%u.img"];
    /// `mm-<pid>.img`: address space layout and memory areas.
    Mm = "MM", 0x5749_2820, Common, E(m::MM_ENTRY), None, ["mm-%u.img"];
    /// `remap-fpath.img`: how unlinked or moved files are found again.
    RemapFpath = "REMAP_FPATH", 0x5913_3954, Common, E(m::REMAP_FILE_PATH_ENTRY), None, ["remap-fpath.img"];
    /// `ghost-file-<id>.img`: contents of an unlinked file.
    GhostFile = "GHOST_FILE", 0x5258_3605, Common, GhostFile, None, ["ghost-file-%x.img"];
    /// `tcp-stream-<inode>.img`: TCP connection state and queues.
    TcpStream = "TCP_STREAM", 0x5146_5506, Common, E(m::TCP_STREAM_ENTRY), TcpStream, ["tcp-stream-%x.img"];
    /// `eventfd.img`: eventfd files (legacy; now inside `files`).
    EventfdFile = "EVENTFD_FILE", 0x4452_3722, Common, E(m::EVENTFD_FILE_ENTRY), None, ["eventfd.img"];
    /// `eventpoll.img`: epoll files (legacy; now inside `files`).
    EventpollFile = "EVENTPOLL_FILE", 0x4502_3858, Common, E(m::EVENTPOLL_FILE_ENTRY), None, ["eventpoll.img"];
    /// `eventpoll-tfd.img`: epoll targets (legacy).
    EventpollTfd = "EVENTPOLL_TFD", 0x4443_3746, Common, E(m::EVENTPOLL_TFD_ENTRY), None, ["eventpoll-tfd.img"];
    /// `signalfd.img`: signalfd files (legacy; now inside `files`).
    Signalfd = "SIGNALFD", 0x5732_3820, Common, E(m::SIGNALFD_ENTRY), None, ["signalfd.img"];
    /// `inotify.img`: inotify files (legacy; now inside `files`).
    InotifyFile = "INOTIFY_FILE", 0x4842_4431, Common, E(m::INOTIFY_FILE_ENTRY), None, ["inotify.img"];
    /// `inotify-wd.img`: inotify watches (legacy).
    InotifyWd = "INOTIFY_WD", 0x5456_2009, Common, E(m::INOTIFY_WD_ENTRY), None, ["inotify-wd.img"];
    /// `mountpoints-<mntns>.img`: the mount table of a mount namespace.
    Mnts = "MNTS", 0x5556_3928, Common, E(m::MNT_ENTRY), None, ["mountpoints-%u.img"];
    /// `netdev-<nsid>.img`: network devices.
    Netdev = "NETDEV", 0x5737_3951, Common, E(m::NET_DEVICE_ENTRY), None, ["netdev-%u.img"];
    /// `netns-<nsid>.img`: network namespace sysctls and ids.
    Netns = "NETNS", 0x5593_3752, Common, E(m::NETNS_ENTRY), None, ["netns-%u.img"];
    /// `tty.img`: terminal files.
    TtyFiles = "TTY_FILES", 0x5943_3025, Common, E(m::TTY_FILE_ENTRY), None, ["tty.img"];
    /// `tty-info.img`: terminal settings.
    TtyInfo = "TTY_INFO", 0x5945_3036, Common, E(m::TTY_INFO_ENTRY), None, ["tty-info.img"];
    /// `tty-data.img`: buffered terminal data.
    TtyData = "TTY_DATA", 0x5941_3026, Common, E(m::TTY_DATA_ENTRY), None, ["tty-data.img"];
    /// `filelocks.img`: flock, POSIX and OFD locks.
    FileLocks = "FILE_LOCKS", 0x5432_3616, Common, E(m::FILE_LOCK_ENTRY), None, ["filelocks.img"];
    /// `rlimit-<pid>.img`: resource limits (legacy; now inside `core`).
    Rlimit = "RLIMIT", 0x5711_3925, Common, E(m::RLIMIT_ENTRY), None, ["rlimit-%u.img"];
    /// `fanotify.img`: fanotify files (legacy; now inside `files`).
    FanotifyFile = "FANOTIFY_FILE", 0x5509_6122, Common, E(m::FANOTIFY_FILE_ENTRY), None, ["fanotify.img"];
    /// `fanotify-mark.img`: fanotify marks (legacy).
    FanotifyMark = "FANOTIFY_MARK", 0x5650_6035, Common, E(m::FANOTIFY_MARK_ENTRY), None, ["fanotify-mark.img"];
    /// `signal-s-<pid>.img`, `signal-p-<tid>.img`: pending signals (legacy; now inside `core`).
    Signal = "SIGNAL", 0x5925_5647, Common, E(m::SIGINFO_ENTRY), None, ["signal-s-%u.img", "signal-p-%u.img"];
    /// `netlinksk.img`: netlink sockets (legacy; now inside `files`).
    NetlinkSk = "NETLINK_SK", 0x5800_5614, Common, E(m::NETLINK_SK_ENTRY), None, ["netlinksk.img"];
    /// `ns-files.img`: namespace files (legacy; now inside `files`).
    NsFiles = "NS_FILES", 0x6139_4011, Common, E(m::NS_FILE_ENTRY), None, ["ns-files.img"];
    /// `tunfile.img`: tun/tap files (legacy; now inside `files`).
    Tunfile = "TUNFILE", 0x5714_3751, Common, E(m::TUNFILE_ENTRY), None, ["tunfile.img"];
    /// `cgroup.img`: cgroup sets, controllers and their properties.
    Cgroup = "CGROUP", 0x5938_3330, Common, E(m::CGROUP_ENTRY), None, ["cgroup.img"];
    /// `timerfd.img`: timerfd files (legacy; now inside `files`).
    Timerfd = "TIMERFD", 0x5049_3712, Common, E(m::TIMERFD_ENTRY), None, ["timerfd.img"];
    /// `cpuinfo.img`: CPU features of the dumping machine.
    Cpuinfo = "CPUINFO", 0x6140_4013, Common, E(m::CPUINFO_ENTRY), None, ["cpuinfo.img"];
    /// `userns-<nsid>.img`: user namespace id maps.
    Userns = "USERNS", 0x5547_4906, Common, E(m::USERNS_ENTRY), None, ["userns-%u.img"];
    /// `seccomp.img`: seccomp filters.
    Seccomp = "SECCOMP", 0x6441_3049, Common, E(m::SECCOMP_ENTRY), None, ["seccomp.img"];
    /// `binfmt-misc.img`: binfmt_misc registrations.
    BinfmtMisc = "BINFMT_MISC", 0x6734_3323, Common, E(m::BINFMT_MISC_ENTRY), None, ["binfmt-misc.img", "binfmt-misc-%u.img"];
    /// `autofs-<id>.img`: autofs mount state.
    Autofs = "AUTOFS", 0x4935_3943, Common, E(m::AUTOFS_ENTRY), None, ["autofs-%u.img"];
    /// `files.img`: every file object (regular, pipe, socket, eventfd, ...).
    Files = "FILES", 0x5630_3138, Common, E(m::FILE_ENTRY), None, ["files.img"];
    /// `memfd.img`: memfd inodes (contents in `pagemap-shmem-*`).
    MemfdInode = "MEMFD_INODE", 0x4845_3499, Common, E(m::MEMFD_INODE_ENTRY), None, ["memfd.img"];
    /// `timens-<nsid>.img`: time namespace offsets.
    Timens = "TIMENS", 0x4311_4433, Common, E(m::TIMENS_ENTRY), None, ["timens-%u.img"];
    /// `pidns-<nsid>.img`: pid namespace extras.
    Pidns = "PIDNS", 0x6115_7326, Common, E(m::PIDNS_ENTRY), None, ["pidns-%u.img"];
    /// `bpfmap-file.img`: BPF map files.
    BpfmapFile = "BPFMAP_FILE", 0x5750_6142, Common, E(m::BPFMAP_FILE_ENTRY), None, ["bpfmap-file.img"];
    /// `bpfmap-data.img`: BPF map keys and values.
    BpfmapData = "BPFMAP_DATA", 0x6432_4033, Common, E(m::BPFMAP_DATA_ENTRY), BpfmapData, ["bpfmap-data.img"];
    /// `apparmor.img`: AppArmor namespaces and policies.
    Apparmor = "APPARMOR", 0x5942_3047, Common, E(m::APPARMOR_ENTRY), None, ["apparmor.img"];
    /// `pidfd.img`: pidfd files.
    Pidfd = "PIDFD", 0x5443_5556, Common, E(m::PIDFD_ENTRY), None, ["pidfd.img"];
    /// `stats-dump`, `stats-restore`: CRIU's own timing and page statistics.
    Stats = "STATS", 0x5709_3306, Service, E(m::STATS_ENTRY), None, ["stats-%s"];
    /// `irmap-cache`: inotify/fanotify watch path cache.
    IrmapCache = "IRMAP_CACHE", 0x5700_4059, Service, E(m::IRMAP_CACHE_ENTRY), None, ["irmap-cache"];
}

/// Names CRIU's `magic.h` gives as aliases of another kind's magic.
const ALIASES: &[(&str, ImageKind)] = &[
    ("SHMEM_PAGEMAP", ImageKind::Pagemap),
    ("PAGES_OLD", ImageKind::Pagemap),
    ("SHM_PAGES_OLD", ImageKind::Pagemap),
    ("PSIGNAL", ImageKind::Signal),
    ("BINFMT_MISC_OLD", ImageKind::BinfmtMisc),
];

/// Files CRIU writes with no magic at all: `(what they hold, file name pattern)`.
pub const RAW_IMAGES: &[(&str, &str)] = &[
    ("pages", "pages-%u.img"),
    ("ifaddr (iproute2 dump)", "ifaddr-%u.img"),
    ("route (iproute2 dump)", "route-%u.img"),
    ("route6 (iproute2 dump)", "route6-%u.img"),
    ("rule (iproute2 dump)", "rule-%u.img"),
    ("iptables (iptables-save)", "iptables-%u.img"),
    ("ip6tables (ip6tables-save)", "ip6tables-%u.img"),
    ("nftables (nft list ruleset)", "nftables-%u.img"),
    ("tmpfs (tar.gz)", "tmpfs-%u.tar.gz.img"),
    ("tmpfs-dev (tar.gz)", "tmpfs-dev-%u.tar.gz.img"),
    ("netns-ct (conntrack dump)", "netns-ct-%u.img"),
    ("netns-exp (conntrack expectations)", "netns-exp-%u.img"),
];

impl ImageKind {
    fn info(self) -> &'static KindInfo {
        // KINDS is in declaration order, the same order as the enum.
        &KINDS[self as usize]
    }

    /// Every protobuf image kind, in CRIU's `magic.h` order.
    pub fn all() -> impl ExactSizeIterator<Item = ImageKind> {
        KINDS.iter().map(|k| k.kind)
    }

    /// The name crit prints in `"magic"`, e.g. `"PAGEMAP"`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The type magic.
    pub fn magic(self) -> u32 {
        self.info().magic
    }

    /// Which head magic CRIU writes before the type magic.
    pub fn head(self) -> Head {
        self.info().head
    }

    /// How the entries are laid out.
    pub fn layout(self) -> Layout {
        self.info().layout
    }

    /// What raw payload follows each entry's message.
    pub fn extra(self) -> ExtraKind {
        self.info().extra
    }

    /// File name patterns CRIU uses for this kind (`%u` decimal id, `%x` hex
    /// id, `%s` any suffix).
    pub fn file_patterns(self) -> &'static [&'static str] {
        self.info().files
    }

    /// The message type of entry `index` (the first entry of a pagemap or
    /// ghost file differs from the rest).
    pub fn entry_message(self, index: usize) -> MessageId {
        match self.layout() {
            Layout::Entries(id) => id,
            Layout::Pagemap if index == 0 => m::PAGEMAP_HEAD,
            Layout::Pagemap => m::PAGEMAP_ENTRY,
            Layout::GhostFile if index == 0 => m::GHOST_FILE_ENTRY,
            Layout::GhostFile => m::GHOST_CHUNK_ENTRY,
        }
    }

    /// The kind with this type magic (aliases share their kind's magic).
    pub fn from_magic(magic: u32) -> Option<ImageKind> {
        KINDS.iter().find(|k| k.magic == magic).map(|k| k.kind)
    }

    /// The kind with this name or alias (`"PAGEMAP"`, `"SHMEM_PAGEMAP"`).
    pub fn from_name(name: &str) -> Option<ImageKind> {
        KINDS.iter().find(|k| k.name == name).map(|k| k.kind).or_else(|| ALIASES.iter().find(|(n, _)| *n == name).map(|(_, k)| *k))
    }

    /// The kind a file name says, e.g. `core-1.img` -> `Core`.
    pub fn from_file_name(file_name: &str) -> Option<ImageKind> {
        KINDS.iter().find(|k| k.files.iter().any(|p| match_file_pattern(p, file_name).is_some())).map(|k| k.kind)
    }
}

impl std::fmt::Display for ImageKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a raw (magic-less) image is, judged by its file name.
pub fn raw_image_kind(file_name: &str) -> Option<&'static str> {
    RAW_IMAGES.iter().find(|(_, pattern)| match_file_pattern(pattern, file_name).is_some()).map(|(what, _)| *what)
}

/// Matches a CRIU file name pattern with one printf-style placeholder and
/// returns the text that stands for it (`"core-%u.img"`, `"core-12.img"` ->
/// `Some("12")`). Patterns without a placeholder return `Some("")`.
pub fn match_file_pattern<'n>(pattern: &str, name: &'n str) -> Option<&'n str> {
    let Some(pct) = pattern.find('%') else {
        return (pattern == name).then_some("");
    };
    let prefix = &pattern[..pct];
    let spec_and_suffix = &pattern[pct + 1..];
    let spec_len = spec_and_suffix.find(['u', 'x', 'd', 's']).map(|i| i + 1)?;
    let (spec, suffix) = spec_and_suffix.split_at(spec_len);
    let middle = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if middle.is_empty() {
        return None;
    }
    let ok = match spec.as_bytes()[spec.len() - 1] {
        b'u' => middle.bytes().all(|b| b.is_ascii_digit()),
        b'd' => {
            let digits = middle.strip_prefix('-').unwrap_or(middle);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        b'x' => middle.bytes().all(|b| b.is_ascii_hexdigit()),
        _ => true,
    };
    ok.then_some(middle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_68_kinds_with_distinct_magics() {
        assert_eq!(ImageKind::all().len(), 68);
        let mut magics: Vec<u32> = ImageKind::all().map(ImageKind::magic).collect();
        magics.sort();
        magics.dedup();
        assert_eq!(magics.len(), 68);
        for (i, kind) in ImageKind::all().enumerate() {
            assert_eq!(kind as usize, i, "{kind} out of place");
        }
    }

    #[test]
    fn kinds_are_found_by_magic_name_and_file() {
        assert_eq!(ImageKind::from_magic(0x5608_4025), Some(ImageKind::Pagemap));
        assert_eq!(ImageKind::from_name("SHMEM_PAGEMAP"), Some(ImageKind::Pagemap));
        assert_eq!(ImageKind::from_file_name("pagemap-shmem-77.img"), Some(ImageKind::Pagemap));
        assert_eq!(ImageKind::from_file_name("core-1.img"), Some(ImageKind::Core));
        assert_eq!(ImageKind::from_file_name("tcp-stream-c91d.img"), Some(ImageKind::TcpStream));
        assert_eq!(ImageKind::from_file_name("stats-dump"), Some(ImageKind::Stats));
        assert_eq!(ImageKind::from_file_name("inotify-wd.img"), Some(ImageKind::InotifyWd));
        assert_eq!(ImageKind::from_file_name("pages-1.img"), None);
        assert_eq!(raw_image_kind("pages-1.img"), Some("pages"));
        assert_eq!(raw_image_kind("tmpfs-dev-44.tar.gz.img"), Some("tmpfs-dev (tar.gz)"));
    }

    #[test]
    fn file_patterns_need_the_right_placeholder() {
        assert_eq!(match_file_pattern("core-%u.img", "core-12.img"), Some("12"));
        assert_eq!(match_file_pattern("core-%u.img", "core-.img"), None);
        assert_eq!(match_file_pattern("core-%u.img", "core-1a.img"), None);
        assert_eq!(match_file_pattern("ghost-file-%x.img", "ghost-file-1a.img"), Some("1a"));
        assert_eq!(match_file_pattern("pages-shmem-%ld.img", "pages-shmem--3.img"), Some("-3"));
        assert_eq!(match_file_pattern("files.img", "files.img"), Some(""));
    }

    #[test]
    fn service_images_and_inventory_have_their_own_heads() {
        assert_eq!(ImageKind::Stats.head(), Head::Service);
        assert_eq!(ImageKind::IrmapCache.head(), Head::Service);
        assert_eq!(ImageKind::Inventory.head(), Head::None);
        assert_eq!(ImageKind::Core.head(), Head::Common);
    }
}
