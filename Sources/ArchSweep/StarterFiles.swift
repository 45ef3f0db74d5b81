import ArchSpec
import Foundation

/// The commented starting files of `archlab new`: an architecture that builds, trains on
/// Fashion-MNIST and shows the language's main features, and an experiment over one of an
/// architecture's parameters that runs as written.
public enum StarterFiles {
    /// A small residual CNN named `name` (1x28x28 input, 10 classes) with a template block, a
    /// width multiplier and a depth parameter.
    public static func architecture(name: String) -> String {
        """
        # \(name): written by `archlab new architecture`. A small residual CNN to start from; edit freely.
        #   archlab validate \(name).yaml              builds it: shapes, parameter and MAC counts, errors at file:line:column
        #   archlab summary \(name).yaml               the layer table (--format paper|markdown|csv|json)
        #   archlab train \(name).yaml --epochs 2 --out runs/\(name)    trains on Fashion-MNIST (input from the data)
        # Cite the paper an architecture follows in `paper:` and here.
        name: \(name)
        doc: "A small residual CNN: stem, stages of residual blocks, global pooling, classifier"
        input: [1, 28, 28]                      # [channels, height, width]; train and sweeps take it from the data

        params:                                 # every value here can be changed with --set name=value or a sweep axis
          num_classes: 10
          width: {type: float, default: 1.0, min: 0.125, doc: "multiplies every stage's channels"}
          widths: {type: list, default: [16, 32, 64], doc: "channels per stage at width 1"}
          depth: {type: int, default: 1, min: 1, doc: "residual blocks per stage"}

        functions:                              # small pure functions; they see only their arguments
          channels: {args: [c, width], value: "${max(8, int(c * width + 0.5))}"}

        templates:                              # blocks are templates: a name, parameters and layers
          residual_block:
            doc: "3x3 conv, BN, ReLU, 3x3 conv, BN, plus the shortcut (1x1 conv + BN when the shape changes)"
            label: residual block
            params:
              planes: {type: int}
              stride: 1
            layers:
              - op: add                         # one branch: the block's input is the other summand
                branches:
                  - layers:
                      - {name: conv1, op: conv2d, out: $planes, kernel: 3, stride: $stride, padding: 1, bias: false}
                      - {name: bn1, op: batchnorm2d}
                      - {name: relu, op: relu}
                      - {name: conv2, op: conv2d, out: $planes, kernel: 3, padding: 1, bias: false}
                      - {name: bn2, op: batchnorm2d}
                  - name: downsample
                    when: "${stride != 1 or in_channels != planes}"
                    layers:
                      - {op: conv2d, out: $planes, kernel: 1, stride: $stride, bias: false}
                      - {op: batchnorm2d}
              - {name: relu, op: relu}

        layers:                                 # names become PyTorch state_dict paths (stem.0.weight, stage1.0.conv1.weight)
          - name: stem
            layers:
              - {op: conv2d, out: "${channels(widths[0], width)}", kernel: 3, padding: 1, bias: false}
              - {op: batchnorm2d}
              - {op: relu}
          - for: s
            in: "${range(len(widths))}"
            layers:
              - name: "stage${s + 1}"
                layers:
                  - for: i
                    in: "${range(depth)}"
                    layers:
                      - {op: residual_block, planes: "${channels(widths[s], width)}", stride: "${2 if s > 0 and i == 0 else 1}"}
          - {name: pool, op: adaptive_avgpool2d, size: 1}
          - {name: flatten, op: flatten}
          - {name: dropout, op: dropout, p: 0.2}
          - {name: fc, op: linear, out: $num_classes}

        """
    }

    /// An experiment named `name` over `architecture` (a path as it should appear in the file):
    /// `axisKey` with `values`, 3 seeds, a Fashion-MNIST subset sized to run in minutes.
    public static func experiment(name: String, architecture: String, axisKey: String, values: [String]) -> String {
        """
        # \(name): written by `archlab new experiment`. One question, answered with seeds and intervals.
        #   archlab validate \(name).yaml                     checks the file and builds every trial's network
        #   archlab sweep \(name).yaml --dry-run              lists the trials with params and MACs (--estimate times them)
        #   archlab sweep \(name).yaml --jobs 2               runs them into runs/\(name)/ (rerun to resume), then writes report.md
        #   tensorboard --logdir runs/\(name)/tensorboard     live curves, one run per trial
        name: \(name)
        doc: "\(axisKey) of \(URL(fileURLWithPath: architecture).lastPathComponent): \(values.joined(separator: " vs ")) (edit this line: the report's title)"
        architecture: \(architecture)
        set:                                    # applied to every trial: any parameter or --set path
          num_classes: 10
        training:                               # every setting of archlab train (archlab train --help)
          data: fashion-mnist                   # or folder:ROOT, cifar10:DIR
          epochs: 3
          batch_size: 64
          optimizer: adam
          lr: 0.001
          schedule: cosine
          validation: 0.1                       # held out to pick each trial's best epoch; the test set is only reported
          limit_train: 6000                     # a subset sized to run in minutes; remove it for the full data set
          threads: 1                            # one thread per trial; --jobs runs trials side by side
        seeds: {min: 3, max: 6, until: decided} # more seeds only where a comparison is still undecided
        strategy: grid                          # grid | zip | variants | ablation | random
        axes:
          \(axisKey): [\(values.joined(separator: ", "))]

        """
    }
}
