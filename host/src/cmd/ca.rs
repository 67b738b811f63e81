//! `pmulab ca init | sign | request`: the course's certificate authority.

use time::macros::format_description;
use time::{Date, OffsetDateTime, Time};

use crate::cli::CaCommand;
use crate::lab::ca::{self, KeyKind, Profile};
use crate::ui::failure::Failure;
use crate::ui::output::{say, tell};

fn key_kind(rsa: bool) -> KeyKind {
    match rsa {
        true => KeyKind::Rsa2048,
        false => KeyKind::EcdsaP256,
    }
}

/// Runs one CA command.
pub fn run(command: CaCommand) -> Result<(), Failure> {
    match command {
        CaCommand::Init(args) => {
            let cn = args.cn.unwrap_or_else(ca::default_name);
            let (crt, key) = ca::init(&args.dir, &cn, key_kind(args.rsa), args.force)
                .map_err(Failure::runtime)?;
            say!(
                "CA created: {} (private, keep it) and {}",
                key.display(),
                crt.display()
            )?;
            say!(
                "give clients {} to verify the certificates this CA signs",
                crt.display()
            )?;
            Ok(())
        }
        CaCommand::Sign(args) => {
            let not_before = match &args.not_before {
                None => None,
                Some(text) => {
                    let date = Date::parse(text, format_description!("[year]-[month]-[day]"))
                        .map_err(|_| {
                            Failure::usage(format!(
                                "--not-before {text:?} is not a date like 2026-01-31"
                            ))
                        })?;
                    Some(OffsetDateTime::new_utc(date, Time::MIDNIGHT))
                }
            };
            let profile = match args.course {
                true => Profile::Course,
                false => Profile::Modern,
            };
            let issued = ca::sign(
                &args.csr, &args.ca, &args.out, args.days, not_before, profile, args.force,
            )
            .map_err(|refusal| match refusal {
                ca::Refusal::Exists(_) => Failure::runtime(refusal),
                ca::Refusal::BadValidity(_) => Failure::usage(refusal),
                _ => Failure::runtime(format!("refused to sign {}: {refusal}", args.csr.display())),
            })?;
            let day = format_description!("[year]-[month]-[day]");
            let from = issued.valid.0.format(day).unwrap_or_default();
            let until = issued.valid.1.format(day).unwrap_or_default();
            let how = match issued.profile {
                Profile::Course => ", X.509 version 1 without extensions, as the course signed",
                Profile::Modern => "",
            };
            say!(
                "signed {}: {} ({}), valid {from} to {until}{how}",
                args.out.display(),
                issued.subject,
                issued.key
            )?;
            if !issued.names_a_host {
                tell!(
                    "pmulab ca: note: no common name: a client can verify this certificate's chain \
against the CA, but cannot check a host name against it (the course's client checked none)"
                );
            }
            if !issued.dropped.is_empty() {
                tell!(
                    "pmulab ca: note: a version 1 certificate has no extensions: the CSR's {} is not in it",
                    issued.dropped.join(", ")
                );
            }
            Ok(())
        }
        CaCommand::Request(args) => {
            let (key, csr) = ca::request(&args.dir, &args.cn, key_kind(args.rsa), args.force)
                .map_err(Failure::runtime)?;
            say!(
                "key {} (private, keep it) and request {}",
                key.display(),
                csr.display()
            )?;
            Ok(())
        }
    }
}
