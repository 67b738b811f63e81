//! How bytes and counts are shown in the dissection.

/// A short, printable rendering of some bytes, with their count.
pub fn preview(data: &[u8]) -> String {
    format!("{} bytes: {}", data.len(), quoted(data))
}

/// The first bytes of `data`, printable and quoted.
pub fn quoted(data: &[u8]) -> String {
    const SHOWN: usize = 48;
    let text: String = String::from_utf8_lossy(&data[..data.len().min(SHOWN)])
        .chars()
        .map(|c| match c {
            '\n' => '⏎',
            c if c.is_control() => '·',
            c => c,
        })
        .collect();
    match data.len() > SHOWN {
        true => format!("\"{text}…\""),
        false => format!("\"{text}\""),
    }
}

/// 65482 → "65,482".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
