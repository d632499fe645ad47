// metrics_demo — why accuracy lies on imbalanced data, and how replicas combine metrics.
//
// A hand-made screening task: 1000 transactions, 20 of them fraud. The
// "model" catches 4 frauds and raises 6 false alarms. Two data-parallel
// replicas each evaluate half the data; their confusion matrices are summed
// (never their accuracies averaged) and the report shows 97.8% accuracy next
// to the 98.0% a model that never says "fraud" would get — the accuracy
// paradox warning fires.
//
//   ./metrics_demo              # prints the report
//   ./metrics_demo out.json     # also writes the JSON report (docs/metrics.md)
#include <fstream>
#include <iostream>

#include <minidp/minidp.h>
#include "guarded_main.h"  // one clear line and exit status 1 for any error

using namespace minidp;
using namespace minidp::metrics;

int run(int argc, char** argv) {
  // Replica 0 got 600 samples: 588 legit (4 flagged), 12 fraud (3 caught).
  ConfusionMatrix replica0(2);
  replica0.add(/*label=*/0, /*predicted=*/0, 584);
  replica0.add(0, 1, 4);
  replica0.add(1, 1, 3);
  replica0.add(1, 0, 9);
  // Replica 1 got 400 samples: 392 legit (2 flagged), 8 fraud (1 caught).
  ConfusionMatrix replica1(2);
  replica1.add(0, 0, 390);
  replica1.add(0, 1, 2);
  replica1.add(1, 1, 1);
  replica1.add(1, 0, 7);

  // Right: sum the counts, then take ratios.
  ConfusionMatrix all = replica0;
  all.merge(replica1);
  // Wrong: average the replicas' ratios (weights 600 and 400 samples equally).
  const double avg_of_recalls = (recall(replica0).per_class[1] + recall(replica1).per_class[1]) / 2;
  std::cout << "fraud recall from summed counts:          " << recall(all).per_class[1] << "\n"
            << "fraud recall as an average of replicas:    " << avg_of_recalls << "  (wrong)\n\n";

  ReportOptions opts;
  opts.class_names = {"legit", "fraud"};
  opts.paradox.positive_class = 1;  // the class we care about
  std::cout << classification_report(all, opts);

  if (argc > 1) {
    std::ofstream(argv[1]) << classification_json(all, opts).dump(2) << "\n";
    std::cout << "\nwrote " << argv[1] << "\n";
  }
  return 0;
}

int main(int argc, char** argv) { return minidp::examples::guarded_main("metrics_demo", run, argc, argv); }
