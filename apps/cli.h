// The `gan` command line as an object: the CLI11 app with every subcommand and its flags, and the
// function each subcommand runs. main() parses and runs; tests and the fuzz harness only parse.
#pragma once
#include <map>
#include <string>

#include "apps/commands.h"

namespace gan::app {

struct GanCli {
  CLI::App app{"gan: train GANs (MLP, DCGAN, WGAN, conditional, InfoGAN, CycleGAN) on the CPU or GPUs and sample from them"};
  std::map<CLI::App*, Runner> runners;  // subcommand -> what it runs after parsing
  GanCli();
  GanCli(const GanCli&) = delete;  // the runners' keys point into `app`
  GanCli& operator=(const GanCli&) = delete;
  // Whether `name` is one of the subcommands (train, sample, ...).
  bool has_command(const std::string& name) const;
};

}  // namespace gan::app
