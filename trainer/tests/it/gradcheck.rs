//! Gradient checks: the hand-written backward of every kernel and of the whole model against
//! central finite differences, in f64.

use sieve_trainer::backend::{Backend, Cpu};
use sieve_trainer::dist::Solo;
use sieve_trainer::model::init::init_params;
use sieve_trainer::model::{Activations, Gpt, GptConfig, GradsReady, ModelShard, Precision};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn assert_close(name: &str, analytic: &[f64], numeric: &[f64]) {
    assert_eq!(analytic.len(), numeric.len());
    let mut worst = 0.0f64;
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        let err = (a - n).abs() / (a.abs().max(n.abs()).max(1e-3));
        assert!(
            err < 1e-5,
            "{name}[{i}]: analytic {a} vs numeric {n} (rel {err:.2e})"
        );
        worst = worst.max(err);
    }
    eprintln!(
        "{name}: {} values, worst relative error {worst:.2e}",
        analytic.len()
    );
}

/// Numeric gradient of `f` with respect to every element of `x`.
fn numeric(x: &mut [f64], mut f: impl FnMut(&[f64]) -> f64) -> Vec<f64> {
    let h = 1e-6;
    (0..x.len())
        .map(|i| {
            let keep = x[i];
            x[i] = keep + h;
            let up = f(x);
            x[i] = keep - h;
            let down = f(x);
            x[i] = keep;
            (up - down) / (2.0 * h)
        })
        .collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn matmul_gradients() {
    let be = Cpu::<f64>::new();
    let (n, c, oc) = (5, 7, 3);
    let mut r = Lcg(1);
    let (mut x, mut w, mut b, probe) = (r.vec(n * c), r.vec(oc * c), r.vec(oc), r.vec(n * oc));
    let f = |x: &[f64], w: &[f64], b: &[f64]| {
        let mut out = vec![0.0; n * oc];
        be.matmul_forward(&mut out, x, w, Some(b), c, oc);
        dot(&out, &probe)
    };
    let (mut dx, mut dw, mut db) = (vec![0.0; n * c], vec![0.0; oc * c], vec![0.0; oc]);
    be.matmul_backward(&mut dx, &mut dw, Some(&mut db), &probe, &x, &w, c, oc);
    let (w0, b0) = (w.clone(), b.clone());
    assert_close("matmul dinp", &dx, &numeric(&mut x, |x| f(x, &w0, &b0)));
    let x0 = x.clone();
    assert_close("matmul dweight", &dw, &numeric(&mut w, |w| f(&x0, w, &b0)));
    let w0 = w.clone();
    assert_close("matmul dbias", &db, &numeric(&mut b, |b| f(&x0, &w0, b)));
}

#[test]
fn layernorm_gradients() {
    let be = Cpu::<f64>::new();
    let (n, c) = (4, 6);
    let mut r = Lcg(2);
    let (mut x, mut w, mut b, probe) = (r.vec(n * c), r.vec(c), r.vec(c), r.vec(n * c));
    let f = |x: &[f64], w: &[f64], b: &[f64]| {
        let (mut out, mut m, mut s) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
        be.layernorm_forward(&mut out, &mut m, &mut s, x, w, b, c);
        dot(&out, &probe)
    };
    let (mut out, mut m, mut s) = (vec![0.0; n * c], vec![0.0; n], vec![0.0; n]);
    be.layernorm_forward(&mut out, &mut m, &mut s, &x, &w, &b, c);
    let (mut dx, mut dw, mut db) = (vec![0.0; n * c], vec![0.0; c], vec![0.0; c]);
    be.layernorm_backward(&mut dx, &mut dw, &mut db, &probe, &x, &w, &m, &s, c);
    let (w0, b0) = (w.clone(), b.clone());
    assert_close("layernorm dinp", &dx, &numeric(&mut x, |x| f(x, &w0, &b0)));
    let x0 = x.clone();
    assert_close(
        "layernorm dweight",
        &dw,
        &numeric(&mut w, |w| f(&x0, w, &b0)),
    );
    assert_close("layernorm dbias", &db, &numeric(&mut b, |b| f(&x0, &w0, b)));
}

#[test]
fn gelu_gradients() {
    let be = Cpu::<f64>::new();
    let mut r = Lcg(3);
    let (mut x, probe) = (
        r.vec(50).iter().map(|v| v * 4.0).collect::<Vec<_>>(),
        r.vec(50),
    );
    let mut dx = vec![0.0; 50];
    be.gelu_backward(&mut dx, &x, &probe);
    assert_close(
        "gelu",
        &dx,
        &numeric(&mut x, |x| {
            let mut out = vec![0.0; 50];
            be.gelu_forward(&mut out, x);
            dot(&out, &probe)
        }),
    );
}

#[test]
fn attention_gradients() {
    let be = Cpu::<f64>::new();
    let (b, t, h, hs) = (2, 5, 3, 4);
    let c = h * hs;
    let mut r = Lcg(4);
    let (mut qkv, probe) = (r.vec(b * t * 3 * c), r.vec(b * t * c));
    let mut out = vec![0.0; b * t * c];
    let mut att = vec![0.0; b * h * t * t];
    be.attention_forward(&mut out, &mut att, &qkv, b, t, h, hs);
    let mut dqkv = vec![0.0; b * t * 3 * c];
    be.attention_backward(&mut dqkv, &probe, &qkv, &att, b, t, h, hs);
    assert_close(
        "attention dqkv",
        &dqkv,
        &numeric(&mut qkv, |qkv| {
            let mut out = vec![0.0; b * t * c];
            let mut att = vec![0.0; b * h * t * t];
            be.attention_forward(&mut out, &mut att, qkv, b, t, h, hs);
            dot(&out, &probe)
        }),
    );
}

#[test]
fn embedding_and_positions_gradients() {
    let be = Cpu::<f64>::new();
    let (v, c, t, b) = (6, 3, 4, 2);
    let mut r = Lcg(5);
    let tokens: Vec<u32> = vec![0, 5, 2, 2, 7, 1, 5, 3]; // 7 is outside this shard's rows
    let (mut wte, mut wpe, probe) = (r.vec(v * c), r.vec(t * c), r.vec(b * t * c));
    let f = |wte: &[f64], wpe: &[f64]| {
        let mut out = vec![0.0; b * t * c];
        be.embed_tokens(&mut out, &tokens, wte, 0, c);
        be.add_positions(&mut out, wpe, t, c);
        dot(&out, &probe)
    };
    let (mut dwte, mut dwpe) = (vec![0.0; v * c], vec![0.0; t * c]);
    be.embed_tokens_backward(&mut dwte, &probe, &tokens, 0, c);
    be.add_positions_backward(&mut dwpe, &probe, t, c);
    let wpe0 = wpe.clone();
    assert_close("embedding dwte", &dwte, &numeric(&mut wte, |w| f(w, &wpe0)));
    let wte0 = wte.clone();
    assert_close("embedding dwpe", &dwpe, &numeric(&mut wpe, |p| f(&wte0, p)));
}

#[test]
fn cross_entropy_gradients() {
    let be = Cpu::<f64>::new();
    let (n, cols, valid) = (4, 9, 7); // two padding columns take no part
    let mut r = Lcg(6);
    let targets = vec![0u32, 6, 3, 3];
    let mut logits: Vec<f64> = r.vec(n * cols).iter().map(|v| v * 3.0).collect();
    let scale = [0.3, -0.2, 0.7, 1.1];
    let loss = |l: &[f64]| {
        let (mut m, mut s, mut p) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        be.row_max(&mut m, l, cols, valid);
        let mut e = vec![0.0; n * cols];
        be.row_sum_exp(&mut s, &mut e, l, &m, cols, valid);
        be.target_logit(&mut p, l, &targets, 0, cols);
        (0..n)
            .map(|i| scale[i] * (s[i].ln() + m[i] - p[i]))
            .sum::<f64>()
    };
    let (mut m, mut s) = (vec![0.0; n], vec![0.0; n]);
    be.row_max(&mut m, &logits, cols, valid);
    let mut e = vec![0.0; n * cols];
    be.row_sum_exp(&mut s, &mut e, &logits, &m, cols, valid);
    let mut d = vec![0.0; n * cols];
    be.cross_entropy_backward(&mut d, &e, &s, &targets, &scale, 0, cols, valid);
    assert_close("cross-entropy dlogits", &d, &numeric(&mut logits, loss));
}

fn tiny_model(precision: Precision) -> Gpt<Cpu<f64>> {
    let cfg = GptConfig {
        layers: 2,
        hidden: 8,
        heads: 2,
        max_seq: 6,
        vocab_size: 11,
    };
    let mut m = Gpt::new(cfg, ModelShard::SINGLE, Cpu::<f64>::new(), precision).unwrap();
    let layout = m.layout.clone();
    init_params(&mut m.params, &layout, ModelShard::SINGLE, 2, 7, 0.3);
    // Non-trivial LayerNorm gains and biases, so their gradients are tested in general form.
    let mut r = Lcg(9);
    for t in &layout.tensors {
        if t.name.contains("ln_") || t.name.contains("bias") {
            for v in &mut m.params[t.range()] {
                *v += 0.3 * r.next();
            }
        }
    }
    m.params_changed();
    m
}

#[test]
fn whole_model_gradients() {
    let mut m = tiny_model(Precision::Full);
    let (b, t) = (2, 5);
    let mut acts = Activations::new(b, t);
    acts.tokens = vec![1, 4, 10, 3, 3, 0, 9, 2, 7, 5];
    acts.targets = vec![4, 10, 3, 3, 0, 9, 2, 7, 5, 1];
    let scale = 1.0 / (b * t) as f64;
    m.forward(&mut acts, &Solo).unwrap();
    m.zero_grads();
    m.backward(&acts, scale, None, &Solo, true, None).unwrap();
    let analytic = m.grads.clone();
    let mut params = m.params.clone();
    let num = numeric(&mut params, |p| {
        m.params.copy_from_slice(p);
        let mut a = Activations::new(b, t);
        a.tokens = acts.tokens.clone();
        a.targets = acts.targets.clone();
        m.forward(&mut a, &Solo).unwrap().unwrap() * scale
    });
    for spec in &m.layout.tensors {
        assert_close(&spec.name, &analytic[spec.range()], &num[spec.range()]);
    }
}

/// Records each "final from here" the backward announces, with the gradients at that moment.
struct Announcements(Vec<(usize, Vec<f64>)>);

impl GradsReady<Cpu<f64>> for Announcements {
    fn ready_from(
        &mut self,
        _: &Cpu<f64>,
        grads: &mut Vec<f64>,
        offset: usize,
    ) -> anyhow::Result<()> {
        self.0.push((offset, grads[offset..].to_vec()));
        Ok(())
    }
}

/// The data-parallel buckets start reducing when backward says a suffix of the gradient
/// buffer is final: the suffixes must grow layer by layer down to the whole buffer, and what
/// each announced suffix held then must be what it holds at the end.
#[test]
fn backward_announces_final_gradients_layer_by_layer() {
    let mut m = tiny_model(Precision::Full);
    let mut acts = Activations::new(2, 5);
    acts.tokens = vec![1, 4, 10, 3, 3, 0, 9, 2, 7, 5];
    acts.targets = vec![4, 10, 3, 3, 0, 9, 2, 7, 5, 1];
    m.forward(&mut acts, &Solo).unwrap();
    m.zero_grads();
    let mut heard = Announcements(Vec::new());
    m.backward(&acts, 0.1, None, &Solo, true, Some(&mut heard))
        .unwrap();
    let offsets: Vec<usize> = heard.0.iter().map(|(o, _)| *o).collect();
    let layer_starts: Vec<usize> = (0..2)
        .rev()
        .map(|l| m.layout.layer(l, "ln_1.weight").start)
        .collect();
    assert_eq!(offsets, [layer_starts[0], layer_starts[1], 0]);
    for (offset, then) in &heard.0 {
        assert_eq!(
            then,
            &m.grads[*offset..],
            "gradients from {offset} changed after"
        );
    }
}
