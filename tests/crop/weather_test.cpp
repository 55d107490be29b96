#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "physynth/domains/crop/weather.h"
#include "physynth/domains/crop/weather_generator.h"
#include "support/test_problems.h"

using namespace physynth;
using namespace physynth::domains::crop;

namespace {
std::string write(const std::string& name, const std::string& text) {
  const std::string path = std::string(PHYSYNTH_TEST_OUTPUT) + "/" + name;
  std::ofstream(path) << text;
  return path;
}
const char* kCaboHeader = "* test\n   5.67  51.97     7.  -0.18 -0.55\n";
const char* kCsvHeader = "DAY,IRRAD,TMIN,TMAX,VAP,WIND,RAIN,ELEV,LAT,LON\n";
}  // namespace

TEST_CASE("extraterrestrial_radiation: FAO-56 example 8 (20 deg S, 3 September)") {
  // Allen et al. (1998), example 8: Ra = 32.2 MJ/m2/day.
  CHECK(extraterrestrial_radiation_j_m2(-20.0, 246) / 1e6 == Approx(32.2).margin(0.05));
  CHECK(saturated_vapour_pressure_hpa(20.0) == Approx(23.38).margin(0.01));  // FAO-56 table 2.3: 2.338 kPa
}

TEST_CASE("read_cabo_weather: NL1.997 in SI units") {
  core::Diagnostics d;
  const auto r = read_cabo_weather(testing::repository_path("data/crop/lintul3/NL1.997"), d);
  INFO(d.report());
  REQUIRE(r);
  CHECK(d.list().empty());
  REQUIRE(r->days.size() == 365);
  CHECK(r->latitude_deg == 51.97);
  CHECK(r->elevation_m == 7.0);
  CHECK(r->days[0].irradiation_j_m2 == 3880000.0);  // 3880 kJ
  CHECK(r->days[0].tmin_c == -15.4);
  CHECK(r->days[0].tmax_c == -8.4);
  CHECK(r->days[0].vapour_pressure_hpa == Approx(2.0));  // 0.200 kPa
  CHECK(r->days[364].day_of_year == 365);
}

TEST_CASE("read_pcse_csv_weather: the FAO files' swapped TMIN and TMAX are repaired, with a warning") {
  const std::string path = testing::repository_path("data/crop/weather/FR1_1983.csv");
  core::Diagnostics d;
  const auto r = read_pcse_csv_weather(path, d);
  REQUIRE(r);
  REQUIRE(d.list().size() == 1);
  CHECK(d.list()[0].format() ==
        path +
            ":2: warning: TMIN > TMAX on 365 of 365 days and below it on none: the two "
            "columns are swapped (a known defect of some PCSE weather files); swapped them back");
  for (const auto& w : r->days) REQUIRE(w.tmin_c <= w.tmax_c);
  CHECK(r->days[0].tmin_c == -3.3);
  CHECK(r->days[0].tmax_c == 1.4);
  CHECK(r->days[1].rain_mm == Approx(1.1));  // 0.11 cm
  // With the repair off, the same file is refused.
  core::Diagnostics strict;
  CHECK_FALSE(read_pcse_csv_weather(path, strict, WeatherReadOptions{false}));
  CHECK(strict.list()[0].message ==
        "TMIN (1.4) > TMAX (-3.3) on 1983 day 1; no day has TMIN < TMAX: the columns look swapped "
        "(repair_swapped_temperatures is off)");
}

TEST_CASE("weather readers: bad input gets a clear error naming the line, never a silent wrong season") {
  struct Case {
    std::string name, text, expected;
  };
  const std::string row2 = "   1 1997   2  3430. -18.6  -8.7   0.200   1.8   0.0\n";
  const std::vector<Case> cases = {
      {"partly_inverted.997",
       std::string(kCaboHeader) + "   1 1997   1  3880. -8.4  -15.4   0.200   3.0   0.0\n" + row2,
       ":3: error: TMIN (-8.4) > TMAX (-15.4) on 1997 day 1; 1 other days have TMIN < TMAX, so this is not a "
       "swapped-column file"},
      {"gap.997",
       std::string(kCaboHeader) + "   1 1997   1  3880. -15.4  -8.4   0.200   3.0   0.0\n" +
           "   1 1997   3  3430. -18.6  -8.7   0.200   1.8   0.0\n",
       ":4: error: day 1997-3 follows 1997-1: days must be consecutive (a gap, a repeat or a wrong order)"},
      {"missing.997", std::string(kCaboHeader) + "   1 1997   1  3880. -99.  -8.4   0.200   3.0   0.0\n" + row2,
       ":3: error: missing value (-99) in column tmin on 1997 day 1; fill it from a neighbouring station before use"},
      {"negative_radiation.997",
       std::string(kCaboHeader) + "   1 1997   1  -3880. -15.4  -8.4   0.200   3.0   0.0\n" + row2,
       ":3: error: negative radiation (-3.88e+06 J/m2/d) on 1997 day 1"},
      {"radiation_units.997",
       std::string(kCaboHeader) + "   1 1997   1  38800. -15.4  -8.4   0.200   3.0   0.0\n" + row2,
       ":3: error: radiation 3.88e+07 J/m2/d on 1997 day 1 exceeds the top-of-atmosphere radiation at latitude 51.97 "
       "(6593136 J/m2/d); check the units (J, kJ or MJ)"},
      {"negative_rain.997", std::string(kCaboHeader) + "   1 1997   1  3880. -15.4  -8.4   0.200   3.0  -2.0\n" + row2,
       ":3: error: negative rain (-2 mm) on 1997 day 1"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string path = write(c.name, c.text);
    core::Diagnostics d;
    CHECK_FALSE(read_cabo_weather(path, d));
    REQUIRE(!d.list().empty());
    CHECK(d.list()[0].format() == path + c.expected);
  }
  const std::string csv =
      write("bad_date.csv", std::string(kCsvHeader) + "1983-13-01,5278000,1.4,3.3,4.6,1.9,0.02,50,45.65,2.57\n");
  core::Diagnostics d;
  CHECK_FALSE(read_pcse_csv_weather(csv, d));
  CHECK(d.list()[0].format() == csv + ":2: error: column DAY must be a date YYYY-MM-DD, got '1983-13-01'");
}

TEST_CASE("WeatherGenerator: fitted to four years at FR1, 300 seasons reproduce the record's statistics") {
  // 300 seasons: the standard error of a monthly mean radiation is then below 1 %, a third of the tolerance.
  core::Diagnostics d;
  std::vector<WeatherRecord> record;
  for (int y = 1983; y <= 1986; ++y)
    record.push_back(
        *read_pcse_csv_weather(testing::repository_path("data/crop/weather/FR1_" + std::to_string(y) + ".csv"), d));
  const auto generator = WeatherGenerator::fit(record);
  std::vector<WeatherRecord> seasons;
  for (std::uint64_t k = 0; k < 300; ++k) seasons.push_back(generator.generate(2001, 365, 7, k));
  const auto a = weather_statistics(record), b = weather_statistics(seasons);
  for (std::size_t m = 0; m < 12; ++m) {
    INFO("month " << m + 1);
    CHECK(std::fabs(a.tmax_mean[m] - b.tmax_mean[m]) < 0.5);
    CHECK(std::fabs(a.tmin_mean[m] - b.tmin_mean[m]) < 0.5);
    CHECK(b.tmax_var[m] / a.tmax_var[m] == Approx(1.0).margin(0.2));
    CHECK(b.tmin_var[m] / a.tmin_var[m] == Approx(1.0).margin(0.2));
    CHECK(b.rad_mean[m] == Approx(a.rad_mean[m]).epsilon(0.03));
    CHECK(b.rad_var[m] / a.rad_var[m] == Approx(1.0).margin(0.2));
    CHECK(b.rain_mean[m] == Approx(a.rain_mean[m]).epsilon(0.1));
    CHECK(std::fabs(a.wet_fraction[m] - b.wet_fraction[m]) < 0.05);
  }
  CHECK(b.wet_spell_mean == Approx(a.wet_spell_mean).epsilon(0.1));
  CHECK(b.dry_spell_mean == Approx(a.dry_spell_mean).epsilon(0.1));
  // Seasons are independent of which others are generated, and valid weather.
  const auto again = generator.generate(2001, 365, 7, 42);
  CHECK(again.days[200].tmax_c == seasons[42].days[200].tmax_c);
  CHECK(generator.generate(2001, 365, 8, 42).days[200].tmax_c != seasons[42].days[200].tmax_c);
  for (const auto& w : seasons[3].days) {
    REQUIRE(w.tmin_c <= w.tmax_c);
    REQUIRE(w.irradiation_j_m2 > 0.0);
    REQUIRE(w.irradiation_j_m2 < extraterrestrial_radiation_j_m2(generator.latitude_deg, w.day_of_year));
    REQUIRE(w.rain_mm >= 0.0);
  }
}
