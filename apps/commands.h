// Subcommands of the `gan` tool. Each adds its flags to a CLI11 subcommand and returns the
// function that runs it after parsing (exit status; errors are thrown as gan::Error).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace gan::app {

using Runner = std::function<int()>;

Runner add_train_command(CLI::App& app);
Runner add_sample_command(CLI::App& app);
Runner add_trace_command(CLI::App& app);

}  // namespace gan::app
