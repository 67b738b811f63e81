//! `pmulab ca init | sign | request`: the course's certificate authority.

use time::macros::format_description;
use time::{Date, OffsetDateTime, Time};

use crate::ca;
use crate::cli::CaCommand;
use crate::failure::Failure;
use crate::output::say;

/// Runs one CA command.
pub fn run(command: CaCommand) -> Result<(), Failure> {
    match command {
        CaCommand::Init(args) => {
            let cn = args.cn.unwrap_or_else(ca::default_name);
            let (crt, key) = ca::init(&args.dir, &cn, args.force).map_err(Failure::runtime)?;
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
            if args.days == 0 {
                return Err(Failure::usage("--days must be at least 1"));
            }
            let issued = ca::sign(&args.csr, &args.ca, &args.out, args.days, not_before).map_err(
                |refusal| {
                    Failure::runtime(format!("refused to sign {}: {refusal}", args.csr.display()))
                },
            )?;
            let day = format_description!("[year]-[month]-[day]");
            let from = issued.valid.0.format(day).unwrap_or_default();
            let until = issued.valid.1.format(day).unwrap_or_default();
            say!(
                "signed {}: CN={} ({}), valid {from} to {until}",
                args.out.display(),
                issued.common_name,
                issued.key
            )?;
            Ok(())
        }
        CaCommand::Request(args) => {
            let (key, csr) = ca::request(&args.dir, &args.cn).map_err(Failure::runtime)?;
            say!(
                "key {} (private, keep it) and request {}",
                key.display(),
                csr.display()
            )?;
            Ok(())
        }
    }
}
