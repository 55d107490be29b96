#include "physynth/domains/crop/lintul3.h"
#include "physynth/core/constants.h"

#include "daily_cvode.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "physynth/domains/crop/afgen.h"
#include "physynth/domains/crop/evapotranspiration.h"
#include "physynth/domains/crop/phenology.h"

namespace physynth::domains::crop {
namespace {

constexpr const char* kModel = "LINTUL3";

// Continuous states: the crop's, then development, then the soil's.
enum State {
  LAI,
  ANLV,
  ANST,
  ANRT,
  ANSO,
  NUPTT,
  NLOSSL,
  NLOSSR,
  WLVG,
  WLVD,
  WST,
  WSO,
  WRT,
  ROOTD,
  TGROWTH,
  WDRT,
  CUMPAR,
  TNSOIL,
  DVS,
  TSUM,
  WA,
  TRUNOF,
  TTRAN,
  TEVAP,
  TDRAIN,
  TRAIN,
  TEXPLO,
  TIRRIG,
  kStates
};
const char* const kStateNames[kStates] = {"LAI",     "ANLV",  "ANST",   "ANRT",   "ANSO",  "NUPTT",  "NLOSSL",
                                          "NLOSSR",  "WLVG",  "WLVD",   "WST",    "WSO",   "WRT",    "ROOTD",
                                          "TGROWTH", "WDRT",  "CUMPAR", "TNSOIL", "DVS",   "TSUM",   "WA",
                                          "TRUNOF",  "TTRAN", "TEVAP",  "TDRAIN", "TRAIN", "TEXPLO", "TIRRIG"};

struct Params {
  double DVSDR, DVSNLT, DVSNT, FNTRT, FRNX, K, LAICR, LRNR, LSNR, LUE, NLAI, NLUE, NMAXSO, NPART, NSLA, RDRSHM, RGRL,
      RNFLV, RNFRT, RNFST, ROOTDM, RRDMAX, SLAC, TBASE, TCNT, TRANCO, TSUMAG, WCFC, WCI, WCST, WCWET, WCWP, RDRNS,
      RDRRT, ROOTDI, NFRLVI, NFRRTI, NFRSTI, WLVGI, WSTI, WRTLI, WSOI, RNMIN, DRATE, WCSUBS, WCAD, DVSI;
  bool WMFAC = false, IRRIGF = false;
  Afgen FLVTB, FRTTB, FSOTB, FSTTB, NMXLV, RDRT, SLACF;
  double LAII = 0;  // initial leaf area index

  void read(const CropParameters& p, core::Diagnostics& d) {
    auto n = [&](const char* name) { return p.number(name, kModel, d); };
    auto t = [&](const char* name) { return p.table(name, kModel, d); };
    DVSDR = n("DVSDR"), DVSNLT = n("DVSNLT"), DVSNT = n("DVSNT"), FNTRT = n("FNTRT"), FRNX = n("FRNX");
    K = n("K"), LAICR = n("LAICR"), LRNR = n("LRNR"), LSNR = n("LSNR"), LUE = n("LUE"), NLAI = n("NLAI");
    NLUE = n("NLUE"), NMAXSO = n("NMAXSO"), NPART = n("NPART"), NSLA = n("NSLA"), RDRSHM = n("RDRSHM");
    RGRL = n("RGRL"), RNFLV = n("RNFLV"), RNFRT = n("RNFRT"), RNFST = n("RNFST"), ROOTDM = n("ROOTDM");
    RRDMAX = n("RRDMAX"), SLAC = n("SLAC"), TBASE = n("TBASE"), TCNT = n("TCNT"), TRANCO = n("TRANCO");
    TSUMAG = n("TSUMAG"), WCFC = n("WCFC"), WCI = n("WCI"), WCST = n("WCST"), WCWET = n("WCWET"), WCWP = n("WCWP");
    RDRNS = n("RDRNS"), RDRRT = n("RDRRT"), ROOTDI = n("ROOTDI"), NFRLVI = n("NFRLVI"), NFRRTI = n("NFRRTI");
    NFRSTI = n("NFRSTI"), WLVGI = n("WLVGI"), WSTI = n("WSTI"), WRTLI = n("WRTLI"), WSOI = n("WSOI");
    RNMIN = n("RNMIN"), DRATE = n("DRATE"), WCSUBS = n("WCSUBS"), WCAD = n("WCAD"), DVSI = n("DVSI");
    WMFAC = p.flag("WMFAC", kModel, d), IRRIGF = p.flag("IRRIGF", kModel, d);
    FLVTB = t("FLVTB"), FRTTB = t("FRTTB"), FSOTB = t("FSOTB"), FSTTB = t("FSTTB"), NMXLV = t("NMXLV");
    RDRT = t("RDRT"), SLACF = t("SLACF");
    if (!SLACF.empty()) LAII = WLVGI * SLAC * SLACF(DVSI);
  }
};

// Everything the right-hand side needs besides the states: the weather at this moment
// and the discrete state of the day.
struct Drivers {
  double dtr_mj = 0;          // global radiation, MJ/m2/d
  double tmean = 0;           // daily mean temperature, degC
  double rain = 0;            // mm/d
  double es0 = 0, et0 = 0;    // mm/d
  double dvr = 0, dtsum = 0;  // development rates
  double fertiliser = 0;      // g N/m2/d reaching the soil today
  double dslr = 1;            // days since the last wet day, for soil evaporation
  bool wet_day = false;       // rain >= 0.5 mm today
  bool crop = false, emerging = false;
};

struct Aux {
  double tran = 0, tranrf = 1;
};

// LINTUL3 rates: dy/dt for the crop, its development and the soil (PCSE's Lintul3 and
// Lintul3Soil, one function).
template <class T>
void lintul3_rates(const Params& p, const Lintul3Options& o, const Drivers& d, const T* y, T* f, Aux* aux) {
  using std::exp;
  using std::sqrt;
  for (int i = 0; i < kStates; ++i) f[i] = T(0.0);
  const T rootd = d.crop ? y[ROOTD] : T(p.ROOTDI);
  const T wc = y[WA] / (1000.0 * rootd);
  T pevap = T(d.es0), tran = T(0.0), rrootd = T(0.0);
  if (d.crop) {
    pevap = tmax(T(0.0), exp(-0.5 * y[LAI]) * d.es0);
    const T ptran = tmax(T(0.0), (1.0 - exp(-0.5 * y[LAI])) * d.et0);
    // Transpiration reduced by drought below the critical content and by waterlogging above WCWET.
    const T wccr = p.WCWP + tmax(T(0.01), ptran / (ptran + p.TRANCO) * (p.WCFC - p.WCWP));
    T fr;
    if (p.WMFAC)
      fr = wc > wccr ? T(1.0) : limit(0.0, 1.0, (wc - p.WCWP) / (wccr - p.WCWP));
    else if (wccr <= wc && wc <= p.WCWET)
      fr = T(1.0);
    else if (wc < wccr)
      fr = limit(0.0, 1.0, (wc - p.WCWP) / (wccr - p.WCWP));
    else
      fr = limit(0.0, 1.0, (p.WCST - wc) / (p.WCST - p.WCWET));
    tran = ptran * fr;
    const T tranrf = ptran != 0.0 ? tran / ptran : T(1.0);
    if (aux) aux->tran = value_of(tran), aux->tranrf = value_of(tranrf);
    f[DVS] = T(d.dvr);
    f[TSUM] = T(d.dtsum);
    if (!d.emerging) {
      const T dvs = y[DVS];
      // Translocatable N and the nitrogen nutrition index.
      const T atnlv = tmax(T(0.0), y[ANLV] - y[WLVG] * p.RNFLV);
      const T atnst = tmax(T(0.0), y[ANST] - y[WST] * p.RNFST);
      const T atnrt = tmin((atnlv + atnst) * p.FNTRT, y[ANRT] - y[WRT] * p.RNFRT);
      const T atn = atnlv + atnst + atnrt;
      const T tbgmr = y[WLVG] + y[WST];
      const T nrmr = (y[WLVG] * p.RNFLV + y[WST] * p.RNFST) / tbgmr;
      const T nmaxlv = p.NMXLV(dvs);
      const T nmaxst = p.LSNR * nmaxlv, nmaxrt = p.LRNR * nmaxlv;
      const T noptmr = (p.FRNX * nmaxlv * y[WLVG] + p.FRNX * nmaxst * y[WST]) / tbgmr;
      const T nfgmr = (y[ANLV] + y[ANST]) / tbgmr;
      const T nni = limit(0.001, 1.0, (nfgmr - nrmr) / (noptmr - nrmr));
      const T sla = p.SLAC * p.SLACF(dvs) * exp(-p.NSLA * (1.0 - nni));
      // Partitioning and growth under the more limiting of water and nitrogen.
      const T nrf = exp(-p.NLUE * (1.0 - nni));
      const T stress_threshold = o.compare_water_stress_with_nni ? nni : nrf;
      const T frtwet = p.FRTTB(dvs), flvt = p.FLVTB(dvs), fstt = p.FSTTB(dvs), fsot = p.FSOTB(dvs);
      T frt, flv, fst, fso;
      if (tranrf < stress_threshold) {
        const T frtmod = tmax(T(1.0), 1.0 / (tranrf + 0.5));
        frt = frtwet * frtmod;
        const T fshmod = (1.0 - frt) / (1.0 - frt / frtmod);
        flv = flvt * fshmod, fst = fstt * fshmod, fso = fsot * fshmod;
      } else {
        const T flvmod = exp(-p.NPART * (1.0 - nni));
        flv = flvt * flvmod;
        const T modif = (1.0 - flv) / (1.0 - flv / flvmod);
        fst = fstt * modif, frt = frtwet * modif, fso = fsot * modif;
      }
      const T parint = 0.5 * d.dtr_mj * (1.0 - exp(-p.K * y[LAI]));
      const T rgrowth = p.LUE * parint * (tranrf <= stress_threshold ? tranrf : nrf);
      // Leaf area: exponential while young and small, else from leaf mass; death by age,
      // shading and nitrogen stress.
      const T glv = flv * rgrowth;
      T glai = sla * glv;
      const double dteff = std::max(0.0, d.tmean - p.TBASE);
      if (dvs < 0.2 && y[LAI] < 0.75)
        glai = y[LAI] * (std::exp(p.RGRL * dteff) - 1.0) * tranrf * exp(-p.NLAI * (1.0 - nni));
      if (y[LAI] == 0.0 && wc > p.WCWP) glai = T(p.LAII);
      const double rdrtmp = p.RDRT(d.tmean);
      const T rdrdv = y[TSUM] < p.TSUMAG ? T(0.0) : T(rdrtmp);
      const T rdrsh = tmax(T(0.0), p.RDRSHM * (y[LAI] - p.LAICR) / p.LAICR);
      const T rdr = tmax(rdrdv, rdrsh);
      T dlvns = T(0.0), dlains = T(0.0);
      if (nni < 1.0) dlvns = y[WLVG] * p.RDRNS * (1.0 - nni), dlains = dlvns * sla;
      const T dlv = y[WLVG] * rdr + dlvns;
      const T dlai = y[LAI] * rdr + dlains;
      rrootd = wc > p.WCWP ? tmin(T(p.RRDMAX), p.ROOTDM - y[ROOTD]) : T(0.0);
      const T drrt = dvs < p.DVSDR ? T(0.0) : y[WRT] * p.RDRRT;
      const T rnldlv = p.RNFLV * dlv, rnldrt = p.RNFRT * drrt;
      // Nitrogen demand, uptake and translocation to the storage organs.
      const T ndemlv = tmax(nmaxlv * y[WLVG] - y[ANLV], T(0.0));
      const T ndemst = tmax(nmaxst * y[WST] - y[ANST], T(0.0));
      const T ndemrt = tmax(nmaxrt * y[WRT] - y[ANRT], T(0.0));
      const T ndemso = tmax(p.NMAXSO * y[WSO] - y[ANSO], T(0.0)) / p.TCNT;
      const T nsupso = dvs > p.DVSNT ? atn / p.TCNT : T(0.0);
      const T rnso = tmin(ndemso, nsupso);
      const T ndemto = tmax(T(0.0), ndemlv + ndemst + ndemrt);
      const double nlimit = (dvs < p.DVSNLT && wc >= p.WCWP) ? 1.0 : 0.0;
      const T nuptr = tmax(T(0.0), tmin(ndemto, y[TNSOIL])) * nlimit;
      T rntlv = T(0.0), rntst = T(0.0), rntrt = T(0.0);
      if (atn > 0.0) rntlv = rnso * atnlv / atn, rntst = rnso * atnst / atn, rntrt = rnso * atnrt / atn;
      T rnulv = T(0.0), rnust = T(0.0), rnurt = T(0.0);
      if (ndemto > 0.0)
        rnulv = ndemlv / ndemto * nuptr, rnust = ndemst / ndemto * nuptr, rnurt = ndemrt / ndemto * nuptr;
      const double mineralisation = o.mineralisation_in_uptake_window ? p.RNMIN * nlimit : p.RNMIN;
      f[LAI] = glai - dlai;
      f[ANLV] = rnulv - rntlv - rnldlv;
      f[ANST] = rnust - rntst;
      f[ANRT] = rnurt - rntrt - rnldrt;
      f[ANSO] = rnso;
      f[NUPTT] = nuptr;
      f[NLOSSL] = rnldlv;
      f[NLOSSR] = rnldrt;
      f[WLVG] = rgrowth * flv - dlv;
      f[WLVD] = dlv;
      f[WST] = rgrowth * fst;
      f[WSO] = rgrowth * fso;
      f[WRT] = rgrowth * frt - drrt;
      f[ROOTD] = rrootd;
      f[TGROWTH] = rgrowth;
      f[WDRT] = drrt;
      f[CUMPAR] = T(0.5 * d.dtr_mj);
      f[TNSOIL] = d.fertiliser - nuptr + mineralisation;
    }
  }
  // Soil water: evaporation (Ritchie's square-root-of-time decline after the last wet day),
  // drainage above field capacity, runoff above saturation, irrigation to field capacity.
  const T evs = d.wet_day ? pevap : evaporation_after_wetting(pevap, d.dslr, d.rain);
  const T waad = p.WCAD * 1000.0 * rootd;
  const T availf = evs > 0.0 ? tmin(T(1.0), (y[WA] - waad) / evs) : T(0.0);
  const T evap = evs * availf;
  const T wafc = p.WCFC * 1000.0 * rootd, wast = p.WCST * 1000.0 * rootd;
  const T drain = limit(0.0, p.DRATE, (y[WA] - wafc) + (d.rain - evap - tran));
  const T runoff = tmax(T(0.0), (y[WA] - wast) + (d.rain - evap - tran - drain));
  const T target = p.WMFAC ? wast : wafc;
  const T irrig = p.IRRIGF ? tmax(T(0.0), (target - y[WA]) - (d.rain - evap - tran - drain - runoff)) : T(0.0);
  const T explor = 1000.0 * rrootd * p.WCSUBS;
  f[WA] = d.rain + explor + irrig - runoff - tran - evap - drain;
  f[TRUNOF] = runoff;
  f[TTRAN] = tran;
  f[TEVAP] = evap;
  f[TDRAIN] = drain;
  f[TRAIN] = T(d.rain);
  f[TEXPLO] = explor;
  f[TIRRIG] = irrig;
}

// The season's weather and discrete state, and the drivers at any moment of it.
struct Season {
  const Params& p;
  const Lintul3Options& o;
  const WeatherRecord& weather;
  long first = 0;  // index of the first simulated day in weather.days
  Phenology pheno;
  Drivers today;  // the discrete part, set at each day boundary

  Season(const Params& params, const Lintul3Options& options, const WeatherRecord& w)
      : p(params), o(options), weather(w) {}

  const DailyWeather& day(long k) const {
    const long i = std::clamp(first + k, 0L, static_cast<long>(weather.days.size()) - 1);
    return weather.days[static_cast<std::size_t>(i)];
  }

  // Drivers for day k at time t (days since the start): the day's own weather (Euler) or
  // the weather interpolated between the middles of consecutive days (continuous).
  Drivers at(long k, double t, bool continuous) const {
    Drivers d = today;
    const DailyWeather& w0 = day(k);
    double irrad = w0.irradiation_j_m2, tmin_c = w0.tmin_c, tmax_c = w0.tmax_c, rain = w0.rain_mm;
    double es0 = w0.es0_mm, et0 = w0.et0_mm;
    if (continuous) {
      const DailyWeather w = interpolated_weather(weather, first, t);
      irrad = w.irradiation_j_m2, tmin_c = w.tmin_c, tmax_c = w.tmax_c, rain = w.rain_mm;
      es0 = w.es0_mm, et0 = w.et0_mm;
    }
    d.dtr_mj = irrad / 1e6;
    d.tmean = 0.5 * (tmin_c + tmax_c);
    d.rain = rain, d.es0 = es0, d.et0 = et0;
    if (d.crop) {
      const Phenology::Rates r = pheno.rates(w0.day_of_year, weather.latitude_deg, d.tmean);
      d.dvr = r.DVR, d.dtsum = r.DTSUM;
    }
    return d;
  }
};

class Lintul3Ode : public DailyOde<Lintul3Ode> {
 public:
  explicit Lintul3Ode(const Season& season)
      : DailyOde("lintul3", std::vector<std::string>(std::begin(kStateNames), std::end(kStateNames))),
        season_(season) {}

  template <class T>
  void evaluate(const T& t, const T* y, const T* /*p*/, T* dydt) const {
    const double tt = value_of(t);
    const Drivers d = season_.at(day_, tt, true);
    lintul3_rates(season_.p, season_.o, d, y, dydt, nullptr);
  }
  long day_ = 0;

 private:
  const Season& season_;
};

}  // namespace

const std::vector<std::string>& Lintul3Result::names() {
  static const std::vector<std::string> n{"DVS",    "LAI",   "NUPTT", "TAGBM",  "TGROWTH", "TIRRIG",
                                          "TNSOIL", "TRAIN", "TRAN",  "TRANRF", "TRUNOF",  "TTRAN",
                                          "WC",     "WLVD",  "WLVG",  "WRT",    "WSO",     "WST"};
  return n;
}

std::optional<Lintul3Result> run_lintul3(const CropParameters& params, const Agromanagement& run,
                                         const WeatherRecord& weather, const Lintul3Options& options,
                                         core::Diagnostics& diags) {
  const std::size_t errors_before = diags.error_count();
  Params p;
  p.read(params, diags);
  Season season(p, options, weather);
  season.pheno.read(params, kModel, diags);
  season.first = weather.index_of(run.start_year, run.start_day);
  if (season.first < 0)
    diags.error({weather.source, 0, 0},
                "the weather does not cover the start " + format_date(run.start_year, run.start_day));
  const long crop_day = days_between(run.start_year, run.start_day, run.calendar.start_year, run.calendar.start_day);
  if (crop_day < 0)
    diags.error({params.description, 0, 0},
                "the crop starts (" + format_date(run.calendar.start_year, run.calendar.start_day) +
                    ") before the simulation (" + format_date(run.start_year, run.start_day) + ")");
  if (diags.error_count() > errors_before) return std::nullopt;

  std::vector<double> y(kStates, 0.0), f(kStates);
  y[WA] = 1000.0 * p.ROOTDI * p.WCI;
  y[ROOTD] = p.ROOTDI;
  std::unique_ptr<Lintul3Ode> ode;
  std::unique_ptr<DailyCvode> cvode;
  if (options.scheme == CropScheme::kCvode) {
    ode = std::make_unique<Lintul3Ode>(season);
    cvode = std::make_unique<DailyCvode>(*ode, options.rtol, options.atol);
  }
  Lintul3Result result;
  const auto& names = Lintul3Result::names();
  double dslr = 0.0;
  for (long k = 0;; ++k) {
    if (season.first + k >= static_cast<long>(weather.days.size())) {
      diags.error({weather.source, 0, 0}, "the weather ends before the crop does");
      return std::nullopt;
    }
    const DailyWeather& w = season.day(k);
    bool matured = false;
    if (k > 0 && season.today.crop) {
      // The integrator advanced DVS and TSUM; phenology applies the day-boundary events.
      season.pheno.DVR = y[DVS] - season.pheno.DVS;
      season.pheno.DTSUM = y[TSUM] - season.pheno.TSUM;
      matured = season.pheno.integrate();
      y[DVS] = season.pheno.DVS, y[TSUM] = season.pheno.TSUM;
    }
    if (k == crop_day) {  // the crop starts (at emergence or sowing)
      season.pheno.start(run.calendar.start_at_emergence);
      y[DVS] = season.pheno.DVS, y[TSUM] = 0.0;
      y[LAI] = p.LAII, y[ANLV] = p.NFRLVI * p.WLVGI, y[ANST] = p.NFRSTI * p.WSTI, y[ANRT] = p.NFRRTI * p.WRTLI;
      y[WLVG] = p.WLVGI, y[WST] = p.WSTI, y[WSO] = p.WSOI, y[WRT] = p.WRTLI, y[ROOTD] = p.ROOTDI;
      season.today.crop = true;
    }
    std::string finish;
    if (matured && run.calendar.end != CropEnd::kHarvest) finish = "maturity";
    if (run.calendar.end != CropEnd::kMaturity && w.year == run.calendar.end_year &&
        w.day_of_year == run.calendar.end_day)
      finish = "harvest";
    if (finish.empty() && season.today.crop && k - crop_day == run.calendar.max_duration) finish = "max_duration";
    // The day's discrete state.
    season.today.emerging = season.today.crop && season.pheno.stage == CropStage::kEmerging;
    season.today.wet_day = w.rain_mm >= 0.5;
    dslr = season.today.wet_day ? 1.0 : dslr + 1.0;
    season.today.dslr = dslr;
    season.today.fertiliser = 0.0;
    if (season.today.crop)
      for (const auto& a : run.nitrogen)
        if (a.year == w.year && a.day == w.day_of_year) season.today.fertiliser += a.amount * a.recovery;
    if (season.today.crop) {
      const Phenology::Rates r = season.pheno.rates(w.day_of_year, weather.latitude_deg, 0.5 * (w.tmin_c + w.tmax_c));
      season.pheno.DTSUME = r.DTSUME;
      season.pheno.VERNR = r.VERNR;  // vernalisation and TSUME stay daily (Euler) in both schemes
      if (r.force_vernalisation) season.pheno.force_vernalisation = true;
    }
    // Rates at the start of the day (reported), then the step to the next day.
    const bool continuous = options.scheme == CropScheme::kCvode;
    Aux aux;
    lintul3_rates(p, options, season.at(k, static_cast<double>(k), continuous), y.data(), f.data(), &aux);
    std::vector<double> row(names.size(), kNaN);
    const double tagbm = y[WLVG] + y[WLVD] + y[WST] + y[WSO];
    const double wc = y[WA] / (1000.0 * y[ROOTD]);
    const double all[] = {y[DVS],     y[LAI],    y[NUPTT], tagbm, y[TGROWTH], y[TIRRIG], y[TNSOIL], y[TRAIN], aux.tran,
                          aux.tranrf, y[TRUNOF], y[TTRAN], wc,    y[WLVD],    y[WLVG],   y[WRT],    y[WSO],   y[WST]};
    for (std::size_t i = 0; i < names.size(); ++i) {
      const bool crop_variable = names[i] != "TIRRIG" && names[i] != "TRAIN" && names[i] != "TRUNOF" &&
                                 names[i] != "TTRAN" && names[i] != "WC";
      if (season.today.crop || !crop_variable) row[i] = all[i];
    }
    result.year.push_back(w.year);
    result.day.push_back(w.day_of_year);
    result.rows.push_back(row);
    if (!finish.empty()) {
      result.finish = finish;
      return result;
    }
    if (!continuous) {
      for (int i = 0; i < kStates; ++i) y[static_cast<std::size_t>(i)] += f[static_cast<std::size_t>(i)];
    } else {
      ode->day_ = k;
      if (!cvode->step(k, y, weather, w, diags, &result.solver_steps)) return std::nullopt;
    }
  }
}

}  // namespace physynth::domains::crop
