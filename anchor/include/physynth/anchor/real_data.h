// Real measurements in, as a tidy CSV: one reading per row.
//
//   unit,time,observable,value[,sd][,units][,COVARIATE...]
//   tool_1,0,VB,0.0,0.01,mm,0.75
//
// - unit: the experiment, replicate or machine the reading belongs to (any text).
// - time: in the scenario's time units; within one unit and observable, readings are in
//   non-decreasing time (equal times are replicates).
// - observable: the name the scenario's `anchor.observables` maps to an observation channel.
// - value: the reading, a finite number.
// - sd (optional): its standard deviation, > 0; where given it replaces the noise model's.
// - units (optional): the reading's units, checked against the channel's.
// - any further column is a covariate: a scenario parameter known per unit (a substrate
//   concentration, a cutting depth), constant within the unit.
//
// Every problem in the file is reported (file, line, column, value, what would be valid) and
// nothing is returned; numbers are read with the C locale's strtod, and must use all of the field.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "physynth/core/diagnostics.h"

namespace physynth::anchor {

struct Reading {
  double time = 0.0;
  double value = 0.0;
  double sd = 0.0;  // 0: none given
  int line = 0;     // in the file, for messages
};

struct RealSeries {
  std::string observable;
  std::string units;              // empty when the file has no units column
  std::vector<Reading> readings;  // in file order (non-decreasing time)
};

struct RealUnit {
  std::string id;
  int line = 0;                              // first row of the unit
  std::map<std::string, double> covariates;  // column name -> value
  std::vector<RealSeries> series;            // one per observable, in order of appearance
};

struct RealData {
  std::string file;
  std::vector<std::string> covariate_columns;  // in file order
  std::vector<RealUnit> units;                 // in order of appearance
  std::size_t readings() const;
  std::vector<std::string> observables() const;  // every observable named, in order of appearance
};

// Reads and validates `path`; nullopt after reporting every problem to `diagnostics`.
std::optional<RealData> read_real_data(const std::string& path, core::Diagnostics& diagnostics);

// Reports every reading whose time lies outside [t0, t_end], the span the scenario simulates, at
// its line: `physynth anchor` and `physynth audit` judge a real data set's times alike.
void check_reading_times(const RealData& data, double t0, double t_end, core::Diagnostics& diagnostics);

// Reports every covariate value that is not > 0 where the scenario's parameter of that name is
// drawn on a log scale (`positive` names them, with the distribution for the message): a
// log-scale quantity has no value at or below zero. anchor and audit judge covariates alike.
void check_covariate_signs(const RealData& data, const std::map<std::string, std::string>& positive,
                           core::Diagnostics& diagnostics);

// The same data as the tidy CSV text that read_real_data reads back exactly (each number the
// shortest text that reads back as it): unit,time,observable,value, then sd if any reading has one, units if
// any series has them, and the covariate columns.
std::string format_real_data(const RealData& data);

}  // namespace physynth::anchor
