//! The trainer end to end on the sample pipeline's blend: the loss falls, a resumed run is
//! bitwise an uninterrupted one, the Hugging Face export runs in a numpy GPT-2 and gives the
//! trainer's logits, and damaged checkpoints or data are refused with the file named.

use crate::common;

use std::path::Path;

use sieve_trainer::dist::Solo;
use sieve_trainer::model::Activations;

fn train(blend: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "train",
        "-q",
        "--data",
        blend.to_str().unwrap(),
        "--model",
        "tiny",
        "-j",
        "2",
    ];
    args.extend(common::no_save_unless_saving(extra));
    serde_json::from_slice(&common::sieve_train_ok(&args).stdout).unwrap()
}

fn fails(blend: &Path, extra: &[&str]) -> String {
    let mut cmd = common::sieve_train();
    cmd.args([
        "train",
        "-q",
        "--data",
        blend.to_str().unwrap(),
        "--model",
        "tiny",
    ]);
    cmd.args(common::no_save_unless_saving(extra));
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "expected a refusal for {extra:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const SHORT: &[&str] = &[
    "--seq-len",
    "32",
    "--micro-batch",
    "2",
    "--global-batch",
    "4",
    "--train-iters",
    "8",
    "--warmup-iters",
    "2",
    "--lr",
    "2e-3",
    "--eval-interval",
    "4",
    "--eval-iters",
    "1",
    "--peak-flops",
    "1e9",
];

#[test]
fn loss_falls_on_the_sample_blend() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let metrics = dir.path().join("m.csv");
    let s = train(
        &blend,
        &[
            "--seq-len",
            "64",
            "--micro-batch",
            "4",
            "--global-batch",
            "8",
            "--train-iters",
            "60",
            "--lr",
            "3e-3",
            "--min-lr",
            "3e-4",
            "--warmup-iters",
            "5",
            "--eval-interval",
            "20",
            "--eval-iters",
            "2",
            "--metrics",
            metrics.to_str().unwrap(),
            "--peak-flops",
            "1e9",
        ],
    );
    let f = |k: &str| s[k].as_f64().unwrap();
    eprintln!("{s}");
    // Start near ln(50257) = 10.8: an untrained model.
    assert!(f("first_loss") > 10.0, "{s}");
    assert!(
        f("last_loss") < 6.0,
        "train loss did not fall well below its start: {s}"
    );
    assert!(
        f("last_val_loss") < f("first_val_loss") - 2.0,
        "validation loss did not fall: {s}"
    );
    let csv = std::fs::read_to_string(&metrics).unwrap();
    assert!(csv.starts_with("step,loss,lr,grad_norm"));
    assert_eq!(csv.lines().count(), 61, "one line per step and a header");
}

#[test]
fn resumed_run_is_bitwise_the_uninterrupted_one() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let mut straight = SHORT.to_vec();
    straight.extend(["--save", a.to_str().unwrap()]);
    let sa = train(&blend, &straight);
    let mut first = SHORT.to_vec();
    first.extend(["--save", b.to_str().unwrap(), "--exit-after", "5"]);
    train(&blend, &first);
    assert!(b.join("iter_0000005/state.json").exists());
    let mut second = SHORT.to_vec();
    second.extend(["--save", b.to_str().unwrap(), "--load", b.to_str().unwrap()]);
    let sb = train(&blend, &second);
    assert_eq!(sa["last_loss"], sb["last_loss"], "last loss after resume");
    // The step-8 evaluation takes the validation batch after step 4's, resumed or not.
    assert_eq!(
        sa["last_val_loss"], sb["last_val_loss"],
        "validation after resume"
    );
    assert_ne!(sa["first_val_loss"], sa["last_val_loss"]);
    for f in ["model_tp0_pp0.safetensors", "optim_tp0_pp0_dp0.safetensors"] {
        let x = std::fs::read(a.join("iter_0000008").join(f)).unwrap();
        let y = std::fs::read(b.join("iter_0000008").join(f)).unwrap();
        assert!(
            x == y,
            "{f} differs between the straight and the resumed run"
        );
    }
}

const NUMPY_GPT2: &str = r#"
import json, sys
import numpy as np
from safetensors.numpy import load_file
d = load_file(sys.argv[1] + "/model.safetensors")
cfg = json.load(open(sys.argv[1] + "/config.json"))
tokens = json.loads(sys.argv[2])
want = np.fromfile(sys.argv[3], dtype=np.float32).reshape(len(tokens), -1)
def ln(x, w, b):
    m = x.mean(-1, keepdims=True); v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5) * w + b
def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
g = lambda k: d["transformer." + k].astype(np.float64)
T, C, H = len(tokens), cfg["n_embd"], cfg["n_head"]
x = g("wte.weight")[tokens] + g("wpe.weight")[:T]
for l in range(cfg["n_layer"]):
    p = f"h.{l}."
    h = ln(x, g(p + "ln_1.weight"), g(p + "ln_1.bias"))
    q, k, v = np.split(h @ g(p + "attn.c_attn.weight") + g(p + "attn.c_attn.bias"), 3, axis=-1)
    hs = C // H
    q, k, v = [a.reshape(T, H, hs).transpose(1, 0, 2) for a in (q, k, v)]
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hs) + np.triu(np.full((T, T), -np.inf), 1)
    s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
    y = (s @ v).transpose(1, 0, 2).reshape(T, C)
    x = x + y @ g(p + "attn.c_proj.weight") + g(p + "attn.c_proj.bias")
    h = ln(x, g(p + "ln_2.weight"), g(p + "ln_2.bias"))
    x = x + gelu(h @ g(p + "mlp.c_fc.weight") + g(p + "mlp.c_fc.bias")) @ g(p + "mlp.c_proj.weight") + g(p + "mlp.c_proj.bias")
logits = ln(x, g("ln_f.weight"), g("ln_f.bias")) @ g("wte.weight").T
assert logits.shape == want.shape, (logits.shape, want.shape)
err = np.abs(logits - want).max() / np.abs(logits).max()
print(err)
assert err < 1e-5, err
"#;

#[test]
fn exported_safetensors_runs_in_numpy_gpt2() {
    let Some(py) = common::python_with(&["numpy", "safetensors"]) else {
        return;
    };
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("ck");
    let mut args = SHORT.to_vec();
    args.extend(["--save", save.to_str().unwrap()]);
    train(&blend, &args);
    let hf = dir.path().join("hf");
    common::export(&save, &hf);
    // The trainer's own logits for a token sequence.
    let (model, _) = sieve_trainer::cli::sample::load_model(&save).unwrap();
    let tokens: Vec<u32> = vec![464, 3290, 286, 262, 995, 318, 50256, 11, 290, 1110];
    let mut acts = Activations::new(1, tokens.len());
    acts.tokens = tokens.clone();
    acts.targets = vec![0; tokens.len()];
    model.forward(&mut acts, &Solo).unwrap();
    let v = model.cfg.vocab_size;
    let vl = model.layout.vocab_local;
    let mut bytes = Vec::new();
    for row in acts.logits().chunks(vl) {
        for x in &row[..v] {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    let logits = dir.path().join("logits.f32");
    std::fs::write(&logits, bytes).unwrap();
    let err = common::run_python(
        &py,
        NUMPY_GPT2,
        &[
            hf.to_str().unwrap(),
            &serde_json::to_string(&tokens).unwrap(),
            logits.to_str().unwrap(),
        ],
    );
    eprintln!(
        "numpy GPT-2 vs trainer logits, max relative error {}",
        err.trim()
    );
}

/// Loads an export with transformers (no torch): the tokenizer, its special token, the
/// generation config, and the ids of every text given on stdin as a JSON list.
const HF_TOKENIZER: &str = r#"
import json, sys
from transformers import AutoTokenizer, GenerationConfig
tok = AutoTokenizer.from_pretrained(sys.argv[1])
gen = GenerationConfig.from_pretrained(sys.argv[1])
texts = json.load(sys.stdin)
print(json.dumps({
    "class": type(tok).__name__,
    "size": len(tok),
    "eos": [tok.eos_token, tok.eos_token_id],
    "generation_eos": gen.eos_token_id,
    "ids": [tok.encode(t, add_special_tokens=False) for t in texts],
    "decoded": [tok.decode(tok.encode(t, add_special_tokens=False)) for t in texts],
}))
"#;

/// The export carries the tokenizer the data was made with: transformers' `AutoTokenizer`
/// loads the directory and encodes a corpus (this repository's documentation, and texts with
/// whitespace runs, digits, contractions and other scripts) to the ids sieve's GPT-2 encoder
/// gives; the generation config stops at the end-of-document token.
#[test]
fn exported_tokenizer_loads_in_transformers_and_encodes_as_sieve() {
    let Some(py) = common::python_with(&["transformers"]) else {
        return;
    };
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("ck");
    let mut args = SHORT.to_vec();
    args.extend(["--save", save.to_str().unwrap(), "--exit-after", "1"]);
    train(&blend, &args);
    let hf = dir.path().join("hf");
    common::export(&save, &hf);

    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut texts: Vec<String> = ["README.md", "docs/training.md", "docs/design.md"]
        .iter()
        // Hugging Face splits special-token text off where sieve encodes it as ordinary text.
        .map(|f| {
            std::fs::read_to_string(repo.join(f))
                .unwrap()
                .replace("<|endoftext|>", "")
        })
        .collect();
    texts.extend(
        [
            "  two leading spaces, trailing   \n\n\tTab. It's DON'T we've 1234567 3.14159",
            "naïve café — Ελληνικά, русский, 日本語, 한국어, emoji 🙂🚀",
            "",
            " ",
        ]
        .map(String::from),
    );
    let tok = sieve_shards::tokenizer::Tokenizer::by_name("gpt2").unwrap();
    let mut child = std::process::Command::new(&py)
        .args(["-c", HF_TOKENIZER, hf.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&texts).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["size"], 50_257, "{}", v["class"]);
    assert_eq!(v["eos"], serde_json::json!(["<|endoftext|>", 50_256]));
    assert_eq!(v["generation_eos"], 50_256);
    let mut tokens = 0;
    for (k, text) in texts.iter().enumerate() {
        let mut want = Vec::new();
        tok.encode(text, &mut want).unwrap();
        let got: Vec<u32> = serde_json::from_value(v["ids"][k].clone()).unwrap();
        assert_eq!(got, want, "text {k}");
        assert_eq!(v["decoded"][k], text.as_str(), "text {k}");
        tokens += want.len();
    }
    assert!(tokens > 5_000, "{tokens} tokens compared");
}

#[test]
fn damaged_checkpoints_and_data_are_refused() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("ck");
    let mut args = SHORT.to_vec();
    args.extend(["--save", save.to_str().unwrap(), "--exit-after", "2"]);
    train(&blend, &args);
    let it = save.join("iter_0000002");
    let load = ["--load", save.to_str().unwrap()];

    // A different model shape.
    let mut other = SHORT.to_vec();
    other.extend(["--hidden", "32"]);
    other.extend(load);
    let err = fails(&blend, &other);
    assert!(
        err.contains("config.json") && err.contains("model"),
        "{err}"
    );

    // A flipped byte in the parameters.
    let model = it.join("model_tp0_pp0.safetensors");
    let mut bytes = std::fs::read(&model).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    std::fs::write(&model, &bytes).unwrap();
    let mut same = SHORT.to_vec();
    same.extend(load);
    let err = fails(&blend, &same);
    assert!(
        err.contains("model_tp0_pp0.safetensors") && err.contains("corrupt"),
        "{err}"
    );

    // A truncated data file, and a blend without its manifest.
    let copy = dir.path().join("blend");
    copy_dir(&blend, &copy);
    let bin = copy.join("datasets/web_text_document.bin");
    let b = std::fs::read(&bin).unwrap();
    std::fs::write(&bin, &b[..b.len() - 10]).unwrap();
    let err = fails(&copy, SHORT);
    assert!(
        err.contains("web_text_document.bin") && err.contains("bytes"),
        "{err}"
    );
    std::fs::remove_file(copy.join("manifest.json")).unwrap();
    let err = fails(&copy, SHORT);
    assert!(err.contains("manifest.json"), "{err}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn bf16_emulation_follows_the_fp32_loss_curve() {
    let blend = common::sample_blend();
    let mut args = SHORT.to_vec();
    let fp32 = train(&blend, &args);
    args.extend(["--precision", "bf16"]);
    let bf16 = train(&blend, &args);
    for k in ["first_loss", "last_loss", "last_val_loss"] {
        let (a, b) = (fp32[k].as_f64().unwrap(), bf16[k].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-2 * a, "{k}: fp32 {a} vs bf16 {b}");
        // Rounding is really applied: the two runs are not the same numbers.
        if k == "last_loss" {
            assert_ne!(a, b, "bf16 mode changed nothing");
        }
    }
}

#[test]
fn the_pre_blended_stream_trains_and_sample_generates_text() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("ck");
    let mut args = SHORT.to_vec();
    args.extend(["--stream", "--save", save.to_str().unwrap()]);
    let s = train(&blend, &args);
    assert!(s["last_loss"].as_f64().unwrap() < s["first_loss"].as_f64().unwrap());
    // A stream window is the blend's seq_length tokens: one more than that does not fit.
    let err = fails(
        &blend,
        &["--stream", "--seq-len", "512", "--train-iters", "1"],
    );
    assert!(err.contains("--seq-len 511"), "{err}");
    let sample = || {
        common::sieve_train()
            .args([
                "sample",
                "--checkpoint",
                save.to_str().unwrap(),
                "--prompt",
                "The",
                "-n",
                "12",
                "--seed",
                "3",
            ])
            .output()
            .unwrap()
    };
    let out = sample();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.trim().is_empty(), "no text generated");
    // The same seed gives the same text.
    let again = sample();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);
}

/// `sample --temperature 0` is greedy, and its `--logprobs` lines give each token's id and
/// log-probability as the test computes them from the model's logits; `--ids` prints the same
/// ids and the plain output is their text. The help says what temperature 0 does.
#[test]
fn sample_prints_ids_and_log_probabilities_and_temperature_zero_is_greedy() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("ck");
    let mut args = SHORT.to_vec();
    args.extend(["--save", save.to_str().unwrap(), "--exit-after", "2"]);
    train(&blend, &args);
    let sample = |extra: &[&str]| {
        let out = common::sieve_train()
            .args(["sample", "--checkpoint", save.to_str().unwrap()])
            .args(["--prompt", "The river", "-n", "6", "--temperature", "0"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let lines = sample(&["--logprobs"]);
    let rows: Vec<(u32, f64, String)> = lines
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, '\t').collect();
            let text: String = serde_json::from_str(f[2]).unwrap();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), text)
        })
        .collect();
    assert_eq!(rows.len(), 6, "{lines}");
    let ids: Vec<u32> = rows.iter().map(|r| r.0).collect();
    let printed: Vec<String> = ids.iter().map(u32::to_string).collect();
    assert_eq!(sample(&["--ids"]).trim(), printed.join(" "));

    let tok = sieve_shards::tokenizer::Tokenizer::by_name("gpt2").unwrap();
    let text = String::from_utf8(tok.decode(&ids)).unwrap();
    assert_eq!(sample(&[]).trim_end_matches('\n'), text);
    for r in &rows {
        assert_eq!(r.2, String::from_utf8(tok.decode(&[r.0])).unwrap());
    }

    // The model's own distribution at each step, from its logits.
    let (model, _) = sieve_trainer::cli::sample::load_model(&save).unwrap();
    let mut context = Vec::new();
    tok.encode("The river", &mut context).unwrap();
    for (id, logprob, _) in &rows {
        let mut acts = Activations::new(1, context.len());
        acts.tokens = context.clone();
        acts.targets = vec![0; context.len()];
        model.forward(&mut acts, &Solo).unwrap();
        let vl = model.layout.vocab_local;
        let last = &acts.logits()[(context.len() - 1) * vl..][..model.cfg.vocab_size];
        let argmax = (0..last.len())
            .max_by(|&a, &b| last[a].total_cmp(&last[b]).then(b.cmp(&a)))
            .unwrap();
        assert_eq!(
            *id as usize, argmax,
            "temperature 0 takes the most likely token"
        );
        let top = last[argmax] as f64;
        let log_sum: f64 = last
            .iter()
            .map(|&x| (x as f64 - top).exp())
            .sum::<f64>()
            .ln();
        let want = last[*id as usize] as f64 - top - log_sum;
        assert!((logprob - want).abs() <= 5e-6, "{logprob} vs {want}");
        context.push(*id);
    }

    let help = common::sieve_train()
        .args(["sample", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(help.contains("0 is greedy"), "{help}");
}

/// `sieve-train eval` on a checkpoint gives, for the valid split, the validation loss the run
/// itself recorded at that step (its first evaluation sees the same first batches); a split
/// the blend does not have is refused, naming it.
#[test]
fn eval_of_a_checkpoint_equals_the_runs_own_first_evaluation() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let (save, metrics) = (dir.path().join("ck"), dir.path().join("m.jsonl"));
    let mut args = SHORT.to_vec();
    args.extend(["--save", save.to_str().unwrap(), "--save-interval", "4"]);
    args.extend(["--metrics", metrics.to_str().unwrap()]);
    train(&blend, &args);
    let recorded: Vec<serde_json::Value> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let at_4 = recorded.iter().find(|r| r["step"] == 4).unwrap();
    let eval = |split: &str| {
        common::sieve_train()
            .args(["eval", "--checkpoint"])
            .arg(save.join("iter_0000004"))
            .arg("--data")
            .arg(&blend)
            .args(["--split", split, "-j", "2"])
            .output()
            .unwrap()
    };
    let out = eval("valid");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["step"], 4);
    assert_eq!(report["split"], "valid");
    assert_eq!(report["loss"], at_4["val_loss"], "{report} vs {at_4}");
    let loss = report["loss"].as_f64().unwrap();
    assert!((report["perplexity"].as_f64().unwrap() - loss.exp()).abs() < 1e-9 * loss.exp());
    // SHORT evaluates one global batch of 4 samples of 32 tokens.
    assert_eq!(
        (report["samples"].as_u64(), report["tokens"].as_u64()),
        (Some(4), Some(128))
    );

    // The sample blend's split is 90,10,0: no test split.
    let out = eval("test");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Test split") && err.contains("is empty"),
        "{err}"
    );
}

/// With default flags a run saves at its end, into `./checkpoints`, and its summary names the
/// checkpoint; `--no-save` saves nothing.
#[test]
fn a_run_saves_at_its_end_by_default() {
    let blend = common::sample_blend();
    let dir = tempfile::tempdir().unwrap();
    let mut short = SHORT.to_vec();
    let at = short.iter().position(|&a| a == "--train-iters").unwrap();
    short[at + 1] = "3";
    let run = |extra: &[&str]| {
        let out = common::sieve_train()
            .current_dir(dir.path())
            .args(["train", "-q", "--data"])
            .arg(&blend)
            .args(["--model", "tiny", "-j", "2"])
            .args(&short)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let summary = run(&[]);
    assert_eq!(
        summary["checkpoint"], "checkpoints/iter_0000003",
        "{summary}"
    );
    assert!(dir
        .path()
        .join("checkpoints/iter_0000003/state.json")
        .exists());
    std::fs::remove_dir_all(dir.path().join("checkpoints")).unwrap();
    let summary = run(&["--no-save"]);
    assert_eq!(summary["checkpoint"], serde_json::Value::Null, "{summary}");
    assert!(!dir.path().join("checkpoints").exists());
}
