//! fastText model files read by sieve's own reader (quality classifiers, and language-ID
//! models the Rust reader serves).

use crate::stages::fasttext_infer::SupervisedModel;

/// Arbitrary bytes as a fastText model file: the reader loads or refuses it without
/// panicking or asking for more memory than the file could describe; a model it loads
/// predicts one probability per label, none negative, summing to one (plus fastText's 1e-5
/// per label) unless the line has no token or a damaged file's weights overflow.
pub fn fasttext_model(data: &[u8]) {
    let path = super::scratch_file("model.bin", data);
    let Ok(model) = SupervisedModel::load(&path) else {
        return;
    };
    for line in ["", "a b c", "the quick brown fox\n", "__label__x word"] {
        let p = model.predict(line);
        assert_eq!(p.len(), model.labels().len(), "one probability per label");
        assert!(!p.iter().any(|x| *x < 0.0), "a negative probability: {p:?}");
        // No token at all gives zeros; otherwise a softmax plus fastText's 1e-5 per label.
        // Weights of a damaged but well-formed file may overflow to NaN: allowed.
        let sum: f32 = p.iter().sum();
        let want = 1.0 + 1e-5 * p.len() as f32;
        // Only a softmax sums to one: one-vs-all gives independent sigmoids, and hierarchical
        // softmax adds 1e-5 inside each branch's log.
        if model.is_softmax() && sum.is_finite() && sum != 0.0 {
            assert!(
                (sum - want).abs() < 1e-3 * want,
                "probabilities sum to {sum}"
            );
        }
    }
}
