# Convenience targets; the README's two commands are scripts/run.sh and scripts/test.sh.
.PHONY: run test build release validate fixtures bench sweeps clean reliability corpus fuzz slurm-test resume-check tensorboard-check onnx-check

run:
	./scripts/run.sh

test:
	./scripts/test.sh

build:
	swift build

release:
	swift build -c release --product archlab

validate: release
	.build/release/archlab validate architectures/*.yaml

# Regenerates Tests/Fixtures/pytorch_architectures.json (needs torch==2.13.0+cpu, torchvision==0.28.0, pillow).
fixtures:
	python3 scripts/reference/architecture_fixtures.py > Tests/Fixtures/pytorch_architectures.json

# ArchLab against PyTorch (needs torch==2.13.0+cpu, torchvision==0.28.0, pillow): writes reports/performance.md
bench: release
	python3 bench/compare_pytorch.py

# Every experiment in experiments/ into reports/<name>/ (resumes; delete a folder to rerun it), then
# reports/README.md from their journals. The full-data experiments take about 3 hours each here:
# run one at a time with `.build/release/archlab sweep experiments/NAME.yaml --out reports/NAME --jobs 2` and commit
# its journal part-way; smoke alone takes seconds.
sweeps: release
	for e in experiments/*.yaml; do n=$$(basename "$$e" .yaml); .build/release/archlab sweep "$$e" --out "reports/$$n" --jobs 2 || exit 1; done
	.build/release/archlab report --index reports

clean:
	rm -rf .build

# Issue 7: kill -9 / SIGINT / takeover / disk-full / corpus / corrupt-data checks; writes reports/reliability.md (about 10 minutes)
reliability: release
	python3 scripts/reliability/run.py

# kill -9 of a GoogLeNet trial in its fourth epoch of six, resumed: metrics and weights must equal an
# uninterrupted run's bit for bit (a few minutes)
resume-check: release
	scripts/reliability/kill-resume.sh

# Regenerates the malformed-input corpus in Tests/Fixtures/malformed
corpus:
	python3 scripts/reliability/make_corpus.py

# Issue 8: a one-node Slurm (slurm-wlm + munge, needs root) runs experiments/smoke.yaml as a job
# array with a requeue; the merged report must match a single-machine run
slurm-test: release
	scripts/slurm/integration-test.sh

# Issue 7: libFuzzer targets (YAML spec loader, IDX, CIFAR-10, safetensors, .npy, JPEG), an hour
# each (FUZZ_SECONDS), corpus in fuzz/corpus, crashes in fuzz/crashes, figures in fuzz/results
fuzz: release
	fuzz/run.sh

# Issue 21: a short LeNet run with --tensorboard, read back by TensorBoard's own EventAccumulator
# and checked against its metrics.json (needs `pip install tensorboard`; under a minute)
tensorboard-check: release
	rm -rf /tmp/archlab-tensorboard-check
	.build/release/archlab train architectures/lenet.yaml --limit-train 3000 --limit-test 500 --epochs 2 --threads 1 \
		--out /tmp/archlab-tensorboard-check/run --tensorboard /tmp/archlab-tensorboard-check/events
	python3 scripts/tensorboard/check_events.py /tmp/archlab-tensorboard-check/events /tmp/archlab-tensorboard-check/run

# Issue 21: every architecture file exported to ONNX, checked with onnx.checker and run in
# onnxruntime against archlab forward (needs `pip install onnx onnxruntime safetensors numpy`;
# about 8 minutes, most of it VGG's 0.5 GB weight files); writes reports/onnx-export.md
onnx-check: release
	python3 scripts/onnx/check_export.py | tee reports/onnx-export.md
