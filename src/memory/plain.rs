//! The category a question names in an operator's plain words ("ran out of disk", "got
//! wedged", "banned by the site", "a typo in its settings"), read from cue phrases. Pure and
//! cheap: no model. A question whose cues point at two categories equally names none, and the
//! caller falls back to the category its nearest post-mortems share.

use crate::core::category::Category;
use regex::bytes::RegexSet;
use std::sync::OnceLock;

/// Cue phrases per category (case-insensitive regexes over the question's words). Each names
/// the mechanism the way people describe it, not the way a log prints it; a cue that is also an
/// everyday word elsewhere ("blocked", "frozen", "lock") is written with the words around it.
const CUES: &[(Category, &[&str])] = &[
    (
        Category::RateLimit,
        &[
            r"\bthrottl",
            r"\brate[- ]?limit",
            r"\b429\b",
            r"too many requests",
            r"\bbann?(ed|ing)?\b",
            r"\b(got|get|gets|getting|was|were) blocked\b",
            r"\bblocked (by|for)\b",
            r"\bcaptcha",
            r"\bquota",
            r"\bbudget\b",
            r"\bcredits?\b",
            r"\bback(ed)? off\b",
            r"\bcool (it|down)\b",
            r"\bslow (it )?down\b",
            r"\bhammer",
            r"\bkicked (off|out)\b",
            r"\bspamm?(ed|ing)? retries",
            r"\bretr(y|ied|ies|ying) like crazy",
            r"\blimiting (it|us|them)\b",
            r"\b(as|like) a bot\b",
            r"\bbot detection",
        ],
    ),
    (
        Category::ResourceExhaustion,
        &[
            r"\b(ran|run|runs|running) (out|dry|low)\b",
            r"\bout of (memory|ram|disk|space|storage|file|handles|descriptors|connections|threads|inodes|swap)",
            r"\boom\b",
            r"\bbloat",
            r"\bleak",
            r"\bstarv",
            r"\bexhaust",
            r"\b(disk|drive|storage|volume|partition)s? (was |were |got |is )?(full|filled)",
            r"\bfill(ed|s|ing)? (up )?the (disk|drive|volume)",
            r"\bno space\b",
            r"too many open files",
            r"\bfile (descriptors?|handles?)\b",
            r"\bhandles\b",
            r"\b(connection )?pool (was |got )?(exhausted|empty|drained|maxed)",
            r"\bswap(ping)?\b",
            r"\bresources?\b",
            r"\bmemory\b",
            r"\b(ram|disk space|storage)\b",
            r"\bconnections? (were |was |all )*(checked out|used up|in use|taken)",
            r"\bpooled\b",
            r"\bhogg",
            r"\b(ram|memory) (blow|spike|balloon)",
            r"\bceiling on\b",
            r"\b(used|using) too much\b",
        ],
    ),
    (
        Category::Deadlock,
        &[
            r"\bdead[- ]?lock",
            r"\bwedg",
            r"\bhang(s|ing)?\b",
            r"\bhung\b",
            r"\bfroze\b",
            r"\b(got|gets|was|were|is|become|became) frozen\b",
            r"\bfreez(e|es|ing)( up)?\b",
            r"\bstuck\b",
            r"\bseiz",
            r"\block(s|ed)? up\b",
            r"\bon (a )?locks?\b",
            r"\block (contention|order)",
            r"\bwaiting on each other",
            r"\binfinite(ly)? loop",
            r"\bloop(s|ed|ing)? forever",
            r"\bspin(s|ning)?\b",
            r"\bbusy[- ]loop",
            r"\bcpu[- ]?(max|pegg|bound|at 100)",
            r"\b(maxed|pegged) (the )?cpu",
            r"\bcpu (was |is )?(maxed|pegged)",
            r"\bevent[- ]loop",
            r"\bblock(ed|s|ing)? the (async|event)",
            r"\bsync code\b",
            r"\bbusy\b",
            r"\bnothing external\b",
            r"\bour own fault\b",
            r"\bself[- ]inflicted\b",
            r"\bjamm?(ed|ing|s)?\b",
            r"\bround (and round|in circles)\b",
        ],
    ),
    (
        Category::DependencyUnavailable,
        &[
            r"\b(provider|upstream|vendor|third[- ]party)s?\b.*\b(outage|down|unavailable|unreachable|went away)",
            r"\b(outages?|down|unavailable)\b.*\b(provider|upstream|vendor|third[- ]party)",
            r"\b(database|db|postgres|mysql|redis|queue|broker|rabbit|kafka)s? (was |were |went |is )?(down|away|gone|unreachable|unavailable)",
            r"\b(database|db|postgres|mysql|redis|queue|broker)s? disappear",
            r"\bdisappearances?\b",
            r"\b(lost|lose|loses|losing) (its|the|their) (postgres|database|db|redis|queue|broker)",
            r"\bdependenc(y|ies) (being |was |were )?(down|unavailable|out)",
            r"\brelies on\b",
            r"\brefus(ed|ing) connections?\b",
        ],
    ),
    (
        Category::ConfigError,
        &[
            r"\bmis-?config",
            r"\bconfig(uration)?\b",
            r"\bsettings?\b",
            r"\bset ?up\b",
            r"\bsetup\b",
            r"\benv(ironment)? ?var",
            r"\bvariables?\b",
            r"\bnot set\b",
            r"\bblank\b",
            r"\b(path|\$path)\b",
            r"\bpermissions?\b",
            r"\bfull disk access\b",
            r"\btcc\b",
            r"\btypo\b",
            r"\bwrong value",
            r"\bin my (shell|terminal)\b",
            r"\bas an? (agent|daemon|service)\b",
            r"\bclocks?[- ](chang|went|go)",
            r"\bdaylight saving",
            r"\bdst\b",
            r"\btime ?zone",
            r"\blaunch ?agents?\b",
            r"\bsearch[- ]?path\b",
        ],
    ),
    (
        Category::AuthFailure,
        &[
            r"\blocked out\b",
            r"\bcredentials?\b",
            r"\b(api )?keys?\b.*\b(stop|lapse|expire|revoke|invalid|rotat|reject)",
            r"\btokens?\b.*\b(expire|revoke|invalid|lapse|reject)",
            r"\b(expired|revoked|rotated|lapsed) (key|token|secret|credential|password|cert)",
            r"\bunauthori[sz]ed\b",
            r"\b40[13]\b",
            r"\bforbidden\b",
            r"\bsignatures?\b",
            r"\blog(ged)? (me |it |us )?out\b",
            r"\blost access\b",
            r"\boauth\b",
            r"\bauth(entication|entication failure)?\b",
            r"\b(clock|time) (had |has |was )?(drift|skew|off)",
            r"\bdrift(ed|ing)? (clock|time)",
        ],
    ),
    (
        Category::Crash,
        &[
            r"\bcrash",
            r"\bsegfault",
            r"\bsegmentation fault",
            r"\bpanic",
            r"\buncaught\b",
            r"\bunhandled\b",
            r"\bexceptions?\b",
            r"\bblew up\b",
            r"\bblown up\b",
            r"\bunpinned\b",
            r"\bblow(ing|s)? up\b",
            r"\b(die|died|dying|dies)\b",
            r"\b(package|library|dependency|dependencies|version|sdk|module) (update|upgrade|bump|release)",
            r"\b(updat|upgrad)(e|ed|es|ing) [a-z0-9_.-]+ (broke|take|took|taken|knocked)",
            r"\b(release|update|upgrade)s? (broke|break)",
            r"\bexit(ed)? with\b",
            r"\bcore dump",
            r"\bbugs?\b",
        ],
    ),
    (
        Category::Network,
        &[
            r"\bdns\b",
            r"\blook ?up (domains?|hostnames?|hosts?|names?)",
            r"\bresolv",
            r"\bdomain names?\b",
            r"\bhostnames?\b",
            r"\bcertificates?\b",
            r"\bcerts?\b",
            r"\btls\b",
            r"\bssl\b",
            r"\bhandshake",
            r"\bnetwork",
            r"\bconnectivity\b",
            r"\binternet\b",
            r"\bisp\b",
            r"\bwi-?fi\b",
            r"\bwebsockets?\b",
            r"\bfrozen (market )?(data|prices|quotes|feed)",
            r"\bstale (market )?(data|prices|quotes|feed|stream)",
        ],
    ),
    (
        Category::DataError,
        &[
            r"\bbad (or unexpected )?(input|data|values?|rows?|records?)",
            r"\bunexpected (data|input|values?|format|responses?)",
            r"\bgarbage\b",
            r"\bmalformed\b",
            r"\bweird (characters|data|values)",
            r"\bencoding\b",
            r"\bmangled\b",
            r"\bpars(e|ing|er)\b",
            r"\bschema\b",
            r"\bformat changed\b",
            r"\bchanged (what|how) (their|the|its) (responses?|pages?|api|html|data)",
            r"\bredesign",
            r"\b(renam|mov)(e|ed|es|ing)\b.*\bfields?\b",
            r"\bfields? (were |was )?(renamed|moved|missing|changed)",
            r"\b(page )?layout\b",
            r"\bhtml\b",
            r"\bcame back empty\b",
            r"\boversized\b",
            r"\b(more|too much) (text|input|tokens)\b",
            r"\bcontext (window|length|limit)",
            r"\bnull\b",
            r"\bnan\b",
        ],
    ),
    (
        Category::Unknown,
        &[
            r"\bunexplained\b",
            r"\bunknown (cause|reason)",
            r"\bno (clear|known|obvious) (cause|reason)",
            r"\bfor no (apparent |clear )?reason\b",
            r"\bmyster",
            r"\bnever (found|explained)\b",
            r"\b(could ?n[o']?t|can[no']*t) (be )?explain",
            r"\bno explanation\b",
            r"\bnobody (knew|knows|could)",
        ],
    ),
];

/// All cues in one set, and the category of each (in the set's order).
fn cues() -> &'static (RegexSet, Vec<Category>) {
    static CUE_SET: OnceLock<(RegexSet, Vec<Category>)> = OnceLock::new();
    CUE_SET.get_or_init(|| {
        let (patterns, of): (Vec<&str>, Vec<Category>) = CUES
            .iter()
            .flat_map(|(c, cues)| cues.iter().map(move |p| (*p, *c)))
            .unzip();
        // ASCII only: the cues are English words, and Unicode case folding and word boundaries
        // would cost a cold `ask` milliseconds to compile for nothing.
        let set = regex::bytes::RegexSetBuilder::new(patterns)
            .case_insensitive(true)
            .unicode(false)
            .build()
            .expect("the plain-word cues are valid regexes (a unit test builds them)");
        (set, of)
    })
}

/// The category `words` name in plain words: the one with the most cues in them, when one has
/// strictly more than every other; none when no cue is there or two categories tie.
pub fn category(words: &str) -> Option<Category> {
    let (set, of) = cues();
    let mut counts: Vec<(Category, usize)> = Vec::new();
    for i in set.matches(words.as_bytes()).iter() {
        match counts.iter_mut().find(|(c, _)| *c == of[i]) {
            Some((_, n)) => *n += 1,
            None => counts.push((of[i], 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    match counts.as_slice() {
        [(c, _)] => Some(*c),
        [(c, first), (_, second), ..] if first > second => Some(*c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    #[test]
    fn every_cue_compiles() {
        let n: usize = CUES.iter().map(|(_, c)| c.len()).sum();
        assert_eq!(cues().0.len(), n);
    }

    #[test]
    fn plain_words_name_their_category() {
        for (q, want) in [
            ("did it run out of disk again", ResourceExhaustion),
            ("the bot got wedged on locks", Deadlock),
            ("banned by the site it scrapes", RateLimit),
            ("a typo in its settings", ConfigError),
            ("its API keys expired", AuthFailure),
            ("died on an uncaught exception", Crash),
            ("could not look up hostnames", Network),
            ("choked on malformed rows", DataError),
            ("the unexplained stoppages", Unknown),
        ] {
            assert_eq!(category(q), Some(want), "{q}");
        }
    }

    #[test]
    fn a_cue_shaped_like_another_category_is_read_with_its_neighbours() {
        // "locked out" is access, not a lock; "frozen market data" is a stale feed, not a hang.
        assert_eq!(
            category("what got locked out when a key lapsed"),
            Some(AuthFailure)
        );
        assert_eq!(category("trading on frozen market data"), Some(Network));
        // More cues win: two for the expired credentials, one for "ran out".
        assert_eq!(
            category("it lost access when its credentials ran out"),
            Some(AuthFailure)
        );
    }

    #[test]
    fn no_cue_or_a_tie_names_nothing() {
        assert_eq!(category("what happened last week?"), None);
        // One cue each: a crash and a network failure.
        assert_eq!(category("a crash after the dns change"), None);
    }
}
