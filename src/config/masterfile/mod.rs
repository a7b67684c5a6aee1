//! Loading RFC 1035 master files.
//!
//! `parse_into` / `load_into` stream a file's records, in file order, as uncompressed
//! wire-format records into a [`Sink`]: the lexer (lexer.rs) splits entries, the loader
//! (loader.rs) applies directives and owner / TTL / class defaulting, the common types
//! and RFC 3597 generic rdata are encoded natively (rdata.rs) and the rest by hickory's
//! parser in batches (fallback.rs). `parse` / `load` give hickory records on top of it
//! (records.rs).

mod errors;
mod fallback;
mod fields;
mod lexer;
mod loader;
mod name;
mod rdata;
mod records;
#[cfg(test)]
mod wire_tests;

use std::path::{Path, PathBuf};

use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::binary::BinEncodable;

/// A wire record as a hickory record, for callers that still want one.
pub use records::decode as decode_record;

#[derive(Debug, thiserror::Error)]
#[error("{}:{}: {message}", file.display(), line.map(|l| l.to_string()).unwrap_or_else(|| "?".into()))]
pub struct MasterFileError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// One record of a master file in wire form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireRecord<'a> {
    /// Uncompressed wire name, fully qualified, case as written.
    pub owner: &'a [u8],
    pub class: u16,
    pub rtype: u16,
    pub ttl: u32,
    /// Uncompressed wire rdata; names inside in wire form, case as written.
    pub rdata: &'a [u8],
    /// 1-based line where the record starts.
    pub line: usize,
}

/// Where `parse_into` delivers records. An error it returns stops the load and becomes
/// a `MasterFileError` at that record's line.
pub trait Sink {
    fn record(&mut self, rec: WireRecord<'_>) -> Result<(), String>;
}

/// Parses an RFC 1035 master file's text, delivering each record to `sink` in file
/// order (an `$INCLUDE`'s records where the include is), neither grouped nor
/// deduplicated. `origin` is the initial `$ORIGIN`; `path` names the file in errors and
/// is what relative `$INCLUDE`s are resolved against.
pub fn parse_into(
    text: &[u8],
    path: &Path,
    origin: &Name,
    sink: &mut impl Sink,
) -> Result<(), MasterFileError> {
    let mut origin = origin.clone();
    origin.set_fqdn(true);
    let wire = origin.to_bytes().map_err(|e| MasterFileError {
        file: path.to_path_buf(),
        line: None,
        message: format!("invalid origin {origin}: {e}"),
    })?;
    loader::Loader::new(sink, Some(wire)).load(text, path)
}

/// Reads the file at `path` and parses it into `sink`.
pub fn load_into(path: &Path, origin: &Name, sink: &mut impl Sink) -> Result<(), MasterFileError> {
    let text = std::fs::read(path).map_err(|e| MasterFileError {
        file: path.to_path_buf(),
        line: None,
        message: format!("cannot read file: {e}"),
    })?;
    parse_into(&text, path, origin, sink)
}

/// Parse an RFC 1035 master file's text into hickory records, merged into record sets
/// the way hickory's zone parser merges them. `origin` is the zone origin (fqdn) used
/// as the initial $ORIGIN.
pub fn parse(text: &str, path: &Path, origin: &Name) -> Result<Vec<Record>, MasterFileError> {
    let mut sets = records::RecordSets::default();
    parse_into(text.as_bytes(), path, origin, &mut sets)?;
    Ok(sets.into_records())
}

/// Read the file at `path` and parse it.
pub fn load(path: &Path, origin: &Name) -> Result<Vec<Record>, MasterFileError> {
    let mut sets = records::RecordSets::default();
    load_into(path, origin, &mut sets)?;
    Ok(sets.into_records())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::rdata::DNSSECRData;
    use hickory_proto::rr::rdata::{A, AAAA};
    use hickory_proto::rr::{DNSClass, RData, RecordType};
    use hickory_proto::serialize::binary::BinEncodable;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn origin() -> Name {
        Name::from_ascii("example.com.").unwrap()
    }

    fn load_str(text: &str) -> Result<Vec<Record>, MasterFileError> {
        parse(text, Path::new("zones/example.com.zone"), &origin())
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn find<'r>(records: &'r [Record], owner: &str, rtype: RecordType) -> Vec<&'r Record> {
        let owner = name(owner);
        records
            .iter()
            .filter(|r| r.name == owner && r.record_type() == rtype)
            .collect()
    }

    fn one<'r>(records: &'r [Record], owner: &str, rtype: RecordType) -> &'r Record {
        let found = find(records, owner, rtype);
        assert_eq!(found.len(), 1, "{owner} {rtype}: {found:?}");
        found[0]
    }

    fn unknown_bytes(record: &Record) -> Vec<u8> {
        match &record.data {
            RData::Unknown { rdata, .. } => rdata.anything.clone(),
            other => panic!("not an unknown-type record: {other:?}"),
        }
    }

    const ZONE: &str = r#"$ORIGIN example.com.
$TTL 3600
@   IN  SOA ns1.example.com. hostmaster.example.com. (
            2024010101 ; serial
            7200       ; refresh
            3600       ; retry
            1209600    ; expire
            300 )      ; minimum
    IN  NS  ns1
    IN  NS  ns2.example.com.
    IN  MX  10 mail
@   IN  CAA 0 issue "letsencrypt.org"
ns1 IN  A   192.0.2.53
ns2 IN  A   192.0.2.54
www 300 IN A 192.0.2.10
www IN  AAAA 2001:db8::10
ftp IN  CNAME www
mail IN A   192.0.2.25
txt IN  TXT "v=spf1 mx -all; not a comment" "a \# inside" ; real comment
_sip._tcp IN SRV 10 60 5060 sip
sip IN  A   192.0.2.60
sub IN  NS  ns.sub
ns.sub IN A 192.0.2.100
sub IN  DS  12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE2CBD7A7C8A6A0C8D3E8B5A0F
unk IN  TYPE65280 \# 4 0A000001
gen IN  A   \# 4 C0000201
multi IN TYPE65281 \# 6 ( 0A00 ; first half
        0001 0203 ) ; second half
empty IN TYPE65282 \# 0
"#;

    #[test]
    fn realistic_zone_loads_every_record() {
        let records = load_str(ZONE).unwrap();
        assert_eq!(records.len(), 21);

        let soa = one(&records, "example.com.", RecordType::SOA);
        let RData::SOA(soa_data) = &soa.data else {
            panic!("{soa:?}")
        };
        assert_eq!(soa_data.serial, 2024010101);
        assert_eq!(soa_data.minimum, 300);
        assert_eq!(soa_data.mname, name("ns1.example.com."));

        let ns: Vec<String> = find(&records, "example.com.", RecordType::NS)
            .iter()
            .map(|r| r.data.to_string())
            .collect();
        assert_eq!(ns.len(), 2);
        assert!(ns.contains(&"ns1.example.com.".to_string()), "{ns:?}");
        assert!(ns.contains(&"ns2.example.com.".to_string()), "{ns:?}");

        let mx = one(&records, "example.com.", RecordType::MX);
        let RData::MX(mx_data) = &mx.data else {
            panic!("{mx:?}")
        };
        assert_eq!(
            (mx_data.preference, &mx_data.exchange),
            (10, &name("mail.example.com."))
        );

        let www = one(&records, "www.example.com.", RecordType::A);
        assert_eq!(www.data, RData::A(A(Ipv4Addr::new(192, 0, 2, 10))));
        assert_eq!(www.ttl, 300);
        let aaaa = one(&records, "www.example.com.", RecordType::AAAA);
        assert_eq!(
            aaaa.data,
            RData::AAAA(AAAA("2001:db8::10".parse::<Ipv6Addr>().unwrap()))
        );
        assert_eq!(aaaa.ttl, 3600);

        let cname = one(&records, "ftp.example.com.", RecordType::CNAME);
        assert_eq!(cname.data.to_string(), "www.example.com.");

        let txt = one(&records, "txt.example.com.", RecordType::TXT);
        let RData::TXT(txt_data) = &txt.data else {
            panic!("{txt:?}")
        };
        let strings: Vec<&[u8]> = txt_data.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(
            strings,
            vec![&b"v=spf1 mx -all; not a comment"[..], &b"a # inside"[..]]
        );

        let srv = one(&records, "_sip._tcp.example.com.", RecordType::SRV);
        let RData::SRV(srv_data) = &srv.data else {
            panic!("{srv:?}")
        };
        assert_eq!(srv_data.port, 5060);
        assert_eq!(srv_data.target, name("sip.example.com."));

        let caa = one(&records, "example.com.", RecordType::CAA);
        assert!(caa.data.to_string().contains("letsencrypt.org"), "{caa:?}");

        let delegation = one(&records, "sub.example.com.", RecordType::NS);
        assert_eq!(delegation.data.to_string(), "ns.sub.example.com.");
        let glue = one(&records, "ns.sub.example.com.", RecordType::A);
        assert_eq!(glue.data, RData::A(A(Ipv4Addr::new(192, 0, 2, 100))));

        let ds = one(&records, "sub.example.com.", RecordType::DS);
        let RData::DNSSEC(DNSSECRData::DS(ds_data)) = &ds.data else {
            panic!("{ds:?}")
        };
        assert_eq!(ds_data.key_tag(), 12345);
        assert_eq!(ds_data.digest().len(), 32);

        let unk = one(&records, "unk.example.com.", RecordType::Unknown(65280));
        assert_eq!(unknown_bytes(unk), [0x0A, 0x00, 0x00, 0x01]);
        assert_eq!(unk.ttl, 3600);
        assert_eq!(unk.dns_class, DNSClass::IN);

        let generic_a = one(&records, "gen.example.com.", RecordType::A);
        assert_eq!(generic_a.data, RData::A(A(Ipv4Addr::new(192, 0, 2, 1))));

        let multi = one(&records, "multi.example.com.", RecordType::Unknown(65281));
        assert_eq!(unknown_bytes(multi), [0x0A, 0x00, 0x00, 0x01, 0x02, 0x03]);

        let empty = one(&records, "empty.example.com.", RecordType::Unknown(65282));
        assert_eq!(unknown_bytes(empty), Vec::<u8>::new());

        // No placeholder survives.
        assert!(
            !records
                .iter()
                .any(|r| r.data.to_string().contains("switchyard-rfc3597")),
            "{records:?}"
        );
    }

    #[test]
    fn unknown_type_round_trips_to_wire_byte_for_byte() {
        let records = load_str("unk 60 IN TYPE65280 \\# 4 0A000001\n").unwrap();
        let [record] = &records[..] else {
            panic!("{records:?}")
        };
        assert_eq!(record.record_type(), RecordType::Unknown(65280));
        assert_eq!(record.data.to_bytes().unwrap(), [0x0A, 0x00, 0x00, 0x01]);
        let wire = record.to_bytes().unwrap();
        // owner, then type 65280, class IN, TTL 60, rdlength 4, rdata.
        let mut expected = b"\x03unk\x07example\x03com\x00".to_vec();
        expected.extend_from_slice(&[0xFF, 0x00, 0x00, 0x01, 0, 0, 0, 60, 0, 4]);
        expected.extend_from_slice(&[0x0A, 0x00, 0x00, 0x01]);
        assert_eq!(wire, expected);
    }

    #[test]
    fn empty_generic_rdata_encodes_zero_length() {
        let records = load_str("e 60 IN TYPE65282 \\# 0\n").unwrap();
        let [record] = &records[..] else {
            panic!("{records:?}")
        };
        assert_eq!(record.record_type(), RecordType::Unknown(65282));
        let wire = record.to_bytes().unwrap();
        assert_eq!(&wire[wire.len() - 2..], [0, 0]);
    }

    #[test]
    fn hex_may_be_split_anywhere() {
        let records = load_str("a 60 IN TYPE65280 \\# 4 0A 0 00 001\n").unwrap();
        assert_eq!(unknown_bytes(&records[0]), [0x0A, 0x00, 0x00, 0x01]);
        let records =
            load_str("b 60 IN TYPE65280 ( \\# 2\n 0B 0C ) ; whole rdata in parens\n").unwrap();
        assert_eq!(unknown_bytes(&records[0]), [0x0B, 0x0C]);
    }

    #[test]
    fn known_type_in_generic_form_becomes_typed() {
        let text = "$TTL 60\na IN A \\# 4 C0000201\nb 120 IN TYPE1 \\# 4 c0000202\nc IN type1 192.0.2.3\nd TYPE15 \\# 3 000A00\n";
        let records = load_str(text).unwrap();
        let a = one(&records, "a.example.com.", RecordType::A);
        assert_eq!(a.data, RData::A(A(Ipv4Addr::new(192, 0, 2, 1))));
        let b = one(&records, "b.example.com.", RecordType::A);
        assert_eq!(b.data, RData::A(A(Ipv4Addr::new(192, 0, 2, 2))));
        let c = one(&records, "c.example.com.", RecordType::A);
        assert_eq!(c.data, RData::A(A(Ipv4Addr::new(192, 0, 2, 3))));
        // MX 10 with the root as exchange.
        let d = one(&records, "d.example.com.", RecordType::MX);
        assert_eq!(d.data.to_string(), "10 .");
        assert_eq!((a.ttl, b.ttl, c.ttl), (60, 120, 60));
    }

    #[test]
    fn generic_record_inherits_owner_ttl_and_class() {
        let text =
            "$TTL 900\nhost IN A 192.0.2.1\n     TYPE65280 \\# 1 FF\n 120 TYPE65281 \\# 1 EE\n";
        let records = load_str(text).unwrap();
        let inherited = one(&records, "host.example.com.", RecordType::Unknown(65280));
        assert_eq!(inherited.ttl, 900);
        assert_eq!(inherited.dns_class, DNSClass::IN);
        assert_eq!(unknown_bytes(inherited), [0xFF]);
        let explicit = one(&records, "host.example.com.", RecordType::Unknown(65281));
        assert_eq!(explicit.ttl, 120);
    }

    #[test]
    fn generic_duplicates_merge_like_typed_ones() {
        let text = "$TTL 60\na A 192.0.2.1\na A \\# 4 C0000201\na TYPE1 \\# 4 C0000202\n";
        let records = load_str(text).unwrap();
        let mut found: Vec<String> = find(&records, "a.example.com.", RecordType::A)
            .iter()
            .map(|r| r.data.to_string())
            .collect();
        found.sort();
        assert_eq!(found, ["192.0.2.1", "192.0.2.2"]);
    }

    #[test]
    fn type_tokens_inside_txt_rdata_are_left_alone() {
        let text =
            "$TTL 60\nq TXT \"TYPE65280 \\\\# 4 0A000001\"\nu TXT TYPE65280 \\# 4 0A000001\n";
        let records = load_str(text).unwrap();
        let quoted = one(&records, "q.example.com.", RecordType::TXT);
        let RData::TXT(q) = &quoted.data else {
            panic!("{quoted:?}")
        };
        assert_eq!(&q.txt_data[0][..], b"TYPE65280 \\# 4 0A000001");
        let unquoted = one(&records, "u.example.com.", RecordType::TXT);
        let RData::TXT(u) = &unquoted.data else {
            panic!("{unquoted:?}")
        };
        let strings: Vec<&[u8]> = u.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(strings, [&b"TYPE65280"[..], b"\\#", b"4", b"0A000001"]);
        assert!(find(&records, "u.example.com.", RecordType::Unknown(65280)).is_empty());
    }

    #[test]
    fn dnssec_types_load_from_generic_form() {
        // DNSKEY: flags 257, protocol 3, algorithm 13, 64-byte key.
        let key = "AB".repeat(64);
        let text = format!("$TTL 60\n@ DNSKEY \\# 68 0101030D{key}\n");
        let records = load_str(&text).unwrap();
        let dnskey = one(&records, "example.com.", RecordType::DNSKEY);
        let RData::DNSSEC(DNSSECRData::DNSKEY(k)) = &dnskey.data else {
            panic!("{dnskey:?}")
        };
        assert_eq!(k.flags(), 257);
        assert_eq!(dnskey.data.to_bytes().unwrap().len(), 68);
    }

    #[test]
    fn length_mismatch_reports_line() {
        let err = load_str("$TTL 60\na A 192.0.2.1\nunk TYPE65280 \\# 5 0A000001\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("length 5"), "{err}");
        assert_eq!(err.file, PathBuf::from("zones/example.com.zone"));
        assert!(
            err.to_string().starts_with("zones/example.com.zone:3: "),
            "{err}"
        );
    }

    #[test]
    fn bad_hex_reports_line_of_the_hex() {
        let text = "$TTL 60\nunk TYPE65280 \\# 4 (\n 0A00\n 00G1 )\n";
        let err = load_str(text).unwrap_err();
        assert_eq!(err.line, Some(4));
        assert!(err.message.contains("invalid hex \"00G1\""), "{err}");

        let err = load_str("$TTL 60\nunk TYPE65280 \\# 2 0A0\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("odd number"), "{err}");

        let err = load_str("$TTL 60\nunk TYPE65280 \\# four 0A\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("invalid length"), "{err}");
    }

    #[test]
    fn undecodable_known_type_and_meta_types_are_rejected() {
        let err = load_str("$TTL 60\n\na A \\# 3 C00002\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("cannot decode A"), "{err}");

        let err = load_str("$TTL 60\na TYPE255 \\# 0\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("cannot appear"), "{err}");
    }

    #[test]
    fn malformed_a_record_reports_its_line() {
        let text = "$ORIGIN example.com.\n$TTL 3600\n@ IN NS ns1\n\n; a comment\nns1 IN A 192.0.2.1\nbad IN A 192.0.2.300\nok IN A 192.0.2.2\n";
        let err = load_str(text).unwrap_err();
        assert_eq!(err.line, Some(7), "{err}");
        assert!(err.message.contains("address"), "{err}");
    }

    #[test]
    fn lines_stay_right_after_multiline_generic() {
        let text = "$TTL 60\nm TYPE65280 \\# 4 (\n  0A00\n  0001\n)\nbad A not-an-address\n";
        let err = load_str(text).unwrap_err();
        assert_eq!(err.line, Some(6), "{err}");
    }

    #[test]
    fn error_inside_multiline_soa_reports_a_line_within_it() {
        let text = "$TTL 60\n@ IN SOA ns1 hostmaster (\n  2024x01 ; serial\n  7200 3600 1209600 300 )\n@ IN NS ns1\n";
        let err = load_str(text).unwrap_err();
        let line = err.line.unwrap();
        assert!((2..=4).contains(&line), "{err}");
        assert!(err.message.contains("lines 2-4"), "{err}");
    }

    #[test]
    fn earlier_syntax_error_wins_over_later_generic_error() {
        let text = "$TTL 60\na A 192.0.2.999\nunk TYPE65280 \\# 5 0A000001\n";
        let err = load_str(text).unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
    }

    #[test]
    fn presentation_rrsig_suggests_generic_form() {
        let text = "$TTL 60\n@ IN NS ns1\n@ IN RRSIG NS 13 2 60 20250101000000 20240101000000 12345 example.com. AAAA\n";
        let err = load_str(text).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.message.contains("RFC 3597"), "{err}");
        assert!(err.message.contains("TYPE46"), "{err}");
    }

    #[test]
    fn unknown_type_without_generic_rdata_reports_line() {
        let err = load_str("$TTL 60\n\nx TYPE65280 abc\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
    }

    #[test]
    fn duplicate_soa_in_generic_form_is_rejected() {
        let text = "$TTL 60\n@ SOA ns1 host 1 2 3 4 5\n@ TYPE6 \\# 22 00 00 0000000200000002000000020000000200000002\n";
        let err = load_str(text).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.message.contains("SOA"), "{err}");
    }

    #[test]
    fn load_reads_files_and_relative_includes() {
        let dir = std::env::temp_dir().join(format!("masterfile-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("inc.zone"), "inc A 192.0.2.7\n").unwrap();
        std::fs::write(
            dir.join("main.zone"),
            "$TTL 60\n$INCLUDE inc.zone\ng TYPE65280 \\# 1 01\n",
        )
        .unwrap();
        let records = load(&dir.join("main.zone"), &origin()).unwrap();
        let inc = one(&records, "inc.example.com.", RecordType::A);
        assert_eq!(inc.data, RData::A(A(Ipv4Addr::new(192, 0, 2, 7))));
        assert_eq!(
            unknown_bytes(one(&records, "g.example.com.", RecordType::Unknown(65280))),
            [1]
        );

        let missing = load(&dir.join("nope.zone"), &origin()).unwrap_err();
        assert_eq!(missing.line, None);
        assert!(
            missing.to_string().contains("nope.zone:?: cannot read"),
            "{missing}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
