// Every setting of an eP-ALM run, defined once: its name, type, default,
// range or choices (Boost notifiers, setting_checks.h) and help. From this
// one description come `epalm train`'s command-line options (and generate's
// and eval's reading of a checkpoint's settings), the keys of INI config
// files and EPALM_* variables (config.h layers them), --print-config, and
// the registry's check of registered experiments and sweep cells: a key
// or value `epalm train` would refuse is refused wherever it is written.
#pragma once

#include <boost/program_options.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace epalm::registry {

namespace po = boost::program_options;

// The run's settings: data, model, objective and optimization, output and
// evaluation, the frozen-weight plan and the collective timeout.
void add_training_settings(po::options_description& settings);

// The frozen-weight plan: --plan, --memory-budget, --shard-threshold (part of
// the training settings; eval and generate add them on their own, since the
// checkpoint's run planned for training).
void add_plan_settings(po::options_description& settings);

// --collective-timeout, on every command that runs under several ranks: a
// collective not finished within it aborts the whole job with a message.
void add_collective_settings(po::options_description& settings);

// The settings' names, in the order `epalm train --help` lists them.
const std::vector<std::string>& training_keys();

// What `epalm train` would refuse in one setting (no such setting, a value
// of the wrong type, out of its range or not one of its choices), as the
// option's message, or "" when it resolves.
std::string training_setting_problem(const std::string& key, const std::string& value);

// The settings the variants of one fused job (experiments/fused_training.h)
// may differ in: what trains and how (perception, levels, connectors,
// injected layers, prompt, adapters, dropout, optimizer, schedule, clipping,
// loss), where each writes, and its validation. Every other setting (data,
// models, preprocessing, batch, steps, seed, ranks, plan) shapes the data
// stream or the frozen models the variants share, and must be equal.
const std::set<std::string>& fusable_keys();

// Why two resolved configurations (values by setting name) cannot train as
// one fused job, naming the first setting they must share and do not; ""
// when they can.
std::string fusion_conflict(const std::map<std::string, std::string>& a, const std::map<std::string, std::string>& b);

}  // namespace epalm::registry
