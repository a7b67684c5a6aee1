//! Tests of the wire-format loader: native encodings against hickory's, delivery order,
//! and the exact located message of each error.

use std::path::Path;

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::BinEncodable;
use hickory_proto::serialize::txt::Parser;

use super::fallback::emit_rdata;
use super::{parse_into, MasterFileError, Sink, WireRecord};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Owned {
    owner: Vec<u8>,
    class: u16,
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
    line: usize,
}

#[derive(Default)]
struct Collect(Vec<Owned>);

impl Sink for Collect {
    fn record(&mut self, r: WireRecord<'_>) -> Result<(), String> {
        self.0.push(Owned {
            owner: r.owner.to_vec(),
            class: r.class,
            rtype: r.rtype,
            ttl: r.ttl,
            rdata: r.rdata.to_vec(),
            line: r.line,
        });
        Ok(())
    }
}

const PATH: &str = "zones/example.com.zone";

fn origin() -> Name {
    Name::from_ascii("example.com.").unwrap()
}

fn load(text: &str) -> Result<Vec<Owned>, MasterFileError> {
    let mut sink = Collect::default();
    parse_into(text.as_bytes(), Path::new(PATH), &origin(), &mut sink)?;
    Ok(sink.0)
}

fn err(text: &str) -> String {
    load(text).unwrap_err().to_string()
}

/// hickory's records for the same text, each rdata encoded uncompressed.
fn hickory(text: &str) -> Vec<Owned> {
    let (_, map) = Parser::new(text, None, Some(origin())).parse().unwrap();
    let mut out = Vec::new();
    for r in map.into_values().flatten() {
        let mut rdata = Vec::new();
        emit_rdata(&r.data, &mut rdata).unwrap();
        out.push(Owned {
            owner: r.name.to_bytes().unwrap(),
            class: u16::from(r.dns_class),
            rtype: u16::from(r.record_type()),
            ttl: r.ttl,
            rdata,
            line: 0,
        });
    }
    out.sort();
    out
}

/// Every natively encoded type hickory can also parse, with the edge cases both read
/// the same way. Names are lower case: hickory lowercases them, this loader does not.
const NATIVE: &str = r#"$ORIGIN example.com.
$TTL 1h30m
@   IN  SOA ns1 hostmaster.example.com. ( ; the SOA over several lines
            2024010101 ; serial
            2h         ; refresh, with a unit
            3600 1w
            300 )      ; minimum
    IN  NS  ns1
    NS  ns2.example.net.
@   MX  10 mail
    MX  20 mx.other.example.
    3600 IN A 192.0.2.1
www IN 300 A 192.0.2.10
www 1d IN AAAA 2001:db8::10
v4map IN AAAA ::ffff:192.0.2.1
ftp CNAME www
rev PTR host.example.net.
txt TXT "v=spf1 mx -all; not a comment" "a \# inside" "q\"uote" "back\\slash"
txt TXT plain words here
txt TXT ""
_sip._tcp SRV 10 60 5060 sip
_sip._udp SRV 0 0 0 .
@ CAA 0 issue "letsencrypt.org"
@ CAA 128 iodef "mailto:security@example.com"
@ CAA 0 issuewild ";"
"#;

#[test]
fn native_encodings_equal_hickorys() {
    let mut ours = load(NATIVE).unwrap();
    for r in &mut ours {
        r.line = 0;
    }
    ours.sort();
    let theirs = hickory(NATIVE);
    assert_eq!(ours.len(), 19);
    assert_eq!(ours, theirs);
}

#[test]
fn records_arrive_in_file_order_with_their_lines() {
    let text = "$TTL 60\nb A 192.0.2.2\na A 192.0.2.1\nsub DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2CBD7A7C8A6A0C8D3E8B5A0F\nc ( A\n 192.0.2.3 )\nb A 192.0.2.2\n";
    let got = load(text).unwrap();
    let summary: Vec<(&[u8], u16, usize)> = got
        .iter()
        .map(|r| (&r.owner[..2], r.rtype, r.line))
        .collect();
    assert_eq!(
        summary,
        [
            (&b"\x01b"[..], 1, 2),
            (b"\x01a", 1, 3),
            (b"\x03s", 43, 4),
            (b"\x01c", 1, 5),
            (b"\x01b", 1, 7),
        ]
    );
    // Not deduplicated: the store does that.
    assert_eq!(
        got[0],
        Owned {
            line: 2,
            ..got[4].clone()
        }
    );
    // The DS went through hickory and came back as its wire form.
    assert_eq!(&got[2].rdata[..4], [0x30, 0x39, 8, 2]);
    assert_eq!(got[2].rdata.len(), 36);
}

#[test]
fn case_escapes_and_classes_are_kept() {
    let got =
        load("$TTL 60\nWwW.Ex\\.Ample\\064 CH CNAME Target.Sub\nt TXT \"\\065\\066C\" a\\;b\n")
            .unwrap();
    assert_eq!(got[0].owner, b"\x03WwW\x09Ex.Ample@\x07example\x03com\x00");
    assert_eq!(got[0].class, 3);
    assert_eq!(got[0].rdata, b"\x06Target\x03Sub\x07example\x03com\x00");
    // Quoted: \DDD is a decimal octet. Unquoted: as written, as hickory reads it.
    assert_eq!(got[1].rdata, b"\x03ABC\x04a\\;b");
    assert_eq!(got[1].class, 3, "the class stays until another is stated");
}

#[test]
fn dname_and_long_txt() {
    let long = "x".repeat(300);
    let got = load(&format!(
        "$TTL 60\nold DNAME new.example.net.\nt TXT ( \"{long}\"\n \"two\" )\n"
    ))
    .unwrap();
    assert_eq!(got[0].rtype, 39);
    assert_eq!(got[0].rdata, b"\x03new\x07example\x03net\x00");
    let rdata = &got[1].rdata;
    assert_eq!((rdata[0], rdata[256]), (255, 45));
    // hickory has no SPF mnemonic; its rdata is TXT's.
    let spf = load("$TTL 60\ns SPF \"v=spf1 -all\"\ns TXT \"v=spf1 -all\"\n").unwrap();
    assert_eq!((spf[0].rtype, &spf[0].rdata), (99, &spf[1].rdata));
    assert_eq!(&rdata[302..], b"\x03two");
}

#[test]
fn ttl_defaults_follow_hickory() {
    // An explicit TTL, then $TTL, then the last explicit one.
    let got = load("a 120 A 192.0.2.1\nb A 192.0.2.2\n$TTL 30\nc A 192.0.2.3\nd 7 A 192.0.2.4\ne A 192.0.2.5\n").unwrap();
    let ttls: Vec<u32> = got.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [120, 120, 30, 7, 30]);
    assert_eq!(
        err("\n@ SOA ns1 host 1 2 3 4 5\n"),
        "zones/example.com.zone:2: no TTL for this record: give it one, or put $TTL before it"
    );
}

#[test]
fn include_with_origin_leaves_the_parent_origin_alone() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inc.zone"),
        "x A 192.0.2.7\n$ORIGIN other.\ny A 192.0.2.8\n",
    )
    .unwrap();
    let main = dir.path().join("main.zone");
    std::fs::write(
        &main,
        "$TTL 60\n$INCLUDE inc.zone sub\nz A 192.0.2.9\n$INCLUDE \"missing.zone\"\n",
    )
    .unwrap();
    let mut sink = Collect::default();
    let e = super::load_into(&main, &origin(), &mut sink).unwrap_err();
    let owners: Vec<&[u8]> = sink.0.iter().map(|r| &r.owner[..]).collect();
    assert_eq!(
        owners,
        [
            &b"\x01x\x03sub\x07example\x03com\x00"[..],
            b"\x01y\x05other\x00",
            b"\x01z\x07example\x03com\x00",
        ]
    );
    let missing = dir.path().join("missing.zone");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:4: cannot read $INCLUDE file {}: No such file or directory (os error 2)",
            main.display(),
            missing.display()
        )
    );
    // An error inside an included file names that file and its line.
    std::fs::write(dir.path().join("inc.zone"), "\nx A 192.0.2.999\n").unwrap();
    let e = super::load_into(&main, &origin(), &mut Collect::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:2: invalid IPv4 address \"192.0.2.999\"",
            dir.path().join("inc.zone").display()
        )
    );
}

#[test]
fn each_error_has_its_exact_located_message() {
    let cases: &[(&str, &str)] = &[
        ("$TTL 60\na BOGUS 1\n", "2: unknown record type \"BOGUS\""),
        ("$TTL 60\n\na A 192.0.2.300\n", "3: invalid IPv4 address \"192.0.2.300\""),
        ("$TTL 60\na AAAA 2001:db8::g\n", "2: invalid IPv6 address \"2001:db8::g\""),
        ("$TTL 1x\n", "1: invalid TTL \"1x\""),
        ("$TTL 60\na TXT \"open\n\nb A 192.0.2.1\n", "2: unterminated quoted string"),
        ("$TTL 60\n@ SOA ns1 host (\n 1 2 3 4 5\n", "2: unterminated parenthesis: '(' on line 2 has no ')'"),
        ("$TTL 60\na A 1.2.3.4 )\n", "2: ')' without a matching '('"),
        ("$TTL 60\na MX x mail\n", "2: invalid preference \"x\": expected a number from 0 to 65535"),
        ("$TTL 60\na MX 10\n", "2: MX: missing exchange"),
        ("$TTL 60\na A 192.0.2.1 192.0.2.2\n", "2: A: unexpected \"192.0.2.2\" after the last field"),
        ("$TTL 60\na CAA 0 is-sue \"x\"\n", "2: invalid CAA tag \"is-sue\": 1 to 15 letters and digits"),
        ("$TTL 60\na TXT\n", "2: TXT needs at least one string"),
        ("$TTL 60\na TYPE65280 abc\n", "2: TYPE65280 is not a type this server can read in presentation form: write its rdata in RFC 3597 generic form, `\\# <length> <hex>`"),
        ("$TTL 60\na TYPE255 \\# 0\n", "2: record type TYPE255 (255) cannot appear in a zone file"),
        ("$FOO bar\n", "1: unknown directive $FOO"),
        ("$ORIGIN\n", "1: $ORIGIN needs an argument"),
        ("$TTL 60 61\n", "1: unexpected \"61\" after $TTL"),
        (" A 192.0.2.1\n", "1: the first record has no owner name (a line starting with a blank repeats the previous owner)"),
        ("$TTL 60\na 60 IN\n", "2: no record type after the owner, TTL and class"),
        ("$TTL 60\na..b A 192.0.2.1\n", "2: empty label in name \"a..b\""),
        ("$TTL 60\n@ SOA ns1 host ( 1 2\n 3x 4 5 )\n", "3: invalid retry \"3x\": expected a number from 0 to 2147483647 (in the record spanning lines 2-3)"),
        ("$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n@ SOA ns1 host 1 2 3 4 5\nx A \\# 3 000000\n", "4: cannot decode A from RFC 3597 generic rdata: "),
    ];
    for (text, want) in cases {
        let got = err(text);
        let want = format!("{PATH}:{want}");
        assert!(got.starts_with(&want), "{text:?}:\n got {got}\nwant {want}");
    }
    let label = "l".repeat(64);
    assert_eq!(
        err(&format!("$TTL 60\n{label} A 192.0.2.1\n")),
        format!("{PATH}:2: label in name \"{label}\" is longer than 63 octets")
    );
    let name = format!("{0}.{0}.{0}.{0}", "n".repeat(60));
    assert_eq!(
        err(&format!("$TTL 60\nok A 192.0.2.1\nx CNAME {name}\n")),
        format!("{PATH}:3: name \"{name}\" is longer than 255 octets")
    );
}

#[test]
fn a_relative_name_with_no_origin_is_an_error() {
    let mut sink = Collect::default();
    let e = super::loader::Loader::new(&mut sink, None)
        .load(
            b"$TTL 60\nabs. A 192.0.2.1\nwww A 192.0.2.2\n",
            Path::new(PATH),
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{PATH}:3: relative name \"www\" but no origin: use an absolute name or put $ORIGIN before it")
    );
    assert_eq!(sink.0.len(), 1);
}

#[test]
fn the_sinks_error_is_located_at_its_record() {
    struct Refuse;
    impl Sink for Refuse {
        fn record(&mut self, r: WireRecord<'_>) -> Result<(), String> {
            match r.rtype {
                43 => Err("no DS here".into()),
                _ => Ok(()),
            }
        }
    }
    let text = "$TTL 60\na A 192.0.2.1\nsub DS 1 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2CBD7A7C8A6A0C8D3E8B5A0F\nb A 192.0.2.2\n";
    let e = parse_into(text.as_bytes(), Path::new(PATH), &origin(), &mut Refuse).unwrap_err();
    assert_eq!(e.to_string(), format!("{PATH}:3: no DS here"));
}

#[test]
fn an_earlier_fallback_error_wins_over_a_later_native_one() {
    let text = "$TTL 60\nsub DS 1 8 2 ZZ\nb A 192.0.2.999\n";
    let got = err(text);
    assert!(got.starts_with(&format!("{PATH}:2: ")), "{got}");
}

#[test]
fn fallback_types_equal_hickorys_and_keep_file_order_across_batches() {
    let mut text = String::from("$ORIGIN example.com.\n$TTL 60\n");
    text.push_str(
        "t TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6\n",
    );
    text.push_str("s SSHFP 1 1 DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF\n");
    text.push_str("h HINFO \"PC\" \"Linux\"\n");
    text.push_str("n NAPTR 100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .\n");
    text.push_str("w HTTPS 1 . alpn=h2\n");
    // More than one batch of DS, each between two A records.
    for i in 0..600 {
        text.push_str(&format!(
            "d{i} A 192.0.2.1\nd{i} DS {i} 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2CBD7A7C8A6A0C8D3E8B5A0F\n"
        ));
    }
    let got = load(&text).unwrap();
    let lines: Vec<usize> = got.iter().map(|r| r.line).collect();
    let expected: Vec<usize> = (3..3 + got.len()).collect();
    assert_eq!(
        lines, expected,
        "one record a line, delivered in file order"
    );
    let mut ours: Vec<Owned> = got.into_iter().map(|r| Owned { line: 0, ..r }).collect();
    ours.sort();
    assert_eq!(ours.len(), 1205);
    assert_eq!(ours, hickory(&text));
}
