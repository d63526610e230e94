//! `IAA_DEVICE=model` selects the model; `IAA_MODEL_*` shape it; the WQs it gives are ordinary
//! `iaa_wq::WorkQueue`s. (One test in its own binary: it sets process environment variables.)

use iaa_descriptors::IaaNoop;
use iaa_model::{self as model, ModelConfig, ModelError};
use iaa_wq::{IaaRecords, SubmitMethod, WaitOutcome, WqMode};

#[test]
fn environment_selects_and_shapes_the_model() {
    std::env::remove_var("IAA_DEVICE");
    assert!(!model::selected_by_env());
    std::env::set_var("IAA_DEVICE", "model");
    assert!(model::selected_by_env());
    std::env::set_var("IAA_MODEL_ENGINES", "3");
    std::env::set_var("IAA_MODEL_WQ_SIZE", "16");
    std::env::set_var("IAA_MODEL_WQ_MODE", "dedicated");
    std::env::set_var("IAA_MODEL_FIXED_NS", "1000");
    let cfg = ModelConfig::from_env().unwrap();
    assert_eq!(cfg.engines, 3);
    assert_eq!((cfg.wqs[0].mode, cfg.wqs[0].size), (WqMode::Dedicated, 16));
    assert_eq!(cfg.latency.fixed_ns, 1000);
    let opened = model::open(cfg).unwrap();
    let wq = &opened.wqs[0];
    assert_eq!(wq.method(), SubmitMethod::Model);
    assert_eq!(wq.config().size, 16);
    let mut recs = IaaRecords::new(1).unwrap();
    let s = recs.claim().unwrap();
    // SAFETY: the record outlives the wait.
    unsafe { wq.submit_iaa(&IaaNoop::new(recs.addr(s)).build()) }.unwrap();
    assert!(matches!(
        wq.wait(&recs, s, std::time::Duration::from_secs(10)),
        WaitOutcome::Done(r) if r.status == 1
    ));
    // Values that do not parse are typed errors.
    std::env::set_var("IAA_MODEL_WQ_MODE", "sideways");
    assert!(matches!(
        ModelConfig::from_env(),
        Err(ModelError::BadEnv {
            var: "IAA_MODEL_WQ_MODE",
            ..
        })
    ));
    std::env::set_var("IAA_MODEL_WQ_MODE", "shared");
    std::env::set_var("IAA_MODEL_ENGINES", "many");
    assert!(matches!(
        ModelConfig::from_env(),
        Err(ModelError::BadEnv {
            var: "IAA_MODEL_ENGINES",
            ..
        })
    ));
    std::env::set_var("IAA_MODEL_ENGINES", "1");
    std::env::set_var("IAA_MODEL_WQ_SIZE", "0");
    assert!(matches!(
        model::open(ModelConfig::from_env().unwrap()),
        Err(ModelError::BadConfig(_))
    ));
    // The IAA generation (IAACAP) and the replay mode.
    std::env::set_var("IAA_MODEL_WQ_SIZE", "16");
    assert_eq!(ModelConfig::from_env().unwrap().iaa_cap, 0);
    assert_eq!(ModelConfig::from_env().unwrap().replay, None);
    for (v, cap) in [
        ("2", model::IAA2_CAP),
        ("1", 0),
        ("0x100", 0x100),
        ("257", 257),
    ] {
        std::env::set_var("IAA_MODEL_IAA_CAP", v);
        assert_eq!(ModelConfig::from_env().unwrap().iaa_cap, cap, "{v}");
    }
    std::env::set_var("IAA_MODEL_IAA_CAP", "gnr");
    assert!(matches!(
        ModelConfig::from_env(),
        Err(ModelError::BadEnv {
            var: "IAA_MODEL_IAA_CAP",
            ..
        })
    ));
    std::env::remove_var("IAA_MODEL_IAA_CAP");
    std::env::set_var("IAA_MODEL_REPLAY_MIB", "64");
    assert_eq!(
        ModelConfig::from_env().unwrap().replay,
        Some(model::Replay {
            max_bytes: 64 << 20
        })
    );
}
