//! Hints for names people mistype: the edit distance between two names and the nearest
//! of a set of known names, for errors that say "did you mean `X`?".

/// The Levenshtein distance between `a` and `b`, over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name nearest to `name` within two edits (ties go to the first), ignoring
/// case; `None` when none is that close or `name` is itself known.
pub fn nearest<'k>(name: &str, known: impl IntoIterator<Item = &'k str>) -> Option<&'k str> {
    let lower = name.to_lowercase();
    known
        .into_iter()
        .filter(|k| *k != name)
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_nearest_names() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ts"), 2);
        assert_eq!(edit_distance("ts", "ts"), 0);
        assert_eq!(nearest("wieght", ["weight", "duration"]), Some("weight"));
        assert_eq!(nearest("Status", ["status"]), Some("status"));
        assert_eq!(nearest("zzzzzz", ["weight"]), None);
    }
}
