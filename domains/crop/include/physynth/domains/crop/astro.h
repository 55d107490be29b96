// Astronomy and reference evaporation for daily crop models.
//
// astro(): day length, the daily integral of the sine of solar elevation and
// the diffuse fraction from atmospheric transmission, after the ASTRO routine
// of WOFOST (van Kraalingen; Goudriaan & van Laar 1994, ch. 2; Spitters et al.
// 1986 for the diffuse fraction), as PCSE computes it. Solar declination by
// Spencer's cosine approximation, solar constant 1370 W/m2.
//
// penman(): Penman (1948) open-water (E0), bare-soil (ES0) and crop (ET0)
// reference evaporation in mm/d with the WOFOST parameterisation (Frere &
// Popov 1979 wind function, albedos 0.05, 0.15 and 0.25, net long-wave
// radiation from Brunt's formula and the Angstrom relative sunshine).
// References: Supit et al. (1994) WOFOST 6.0 system description, section 3;
// PCSE pcse/util.py (penman, astro, daylength).
#pragma once

namespace physynth::domains::crop {

struct Astro {
  double day_length_h = 0.0;   // astronomical (sun above the horizon)
  double photoperiod_h = 0.0;  // sun above -4 degrees, for photoperiodic development
  double sinld = 0.0, cosld = 0.0;
  double diffuse_pp = 0.0;         // diffuse PAR perpendicular to the sun's direction, J/m2/s
  double transmission = 0.0;       // atmospheric transmission, actual / top-of-atmosphere radiation
  double dsinbe = 0.0;             // daily integral of sin(beta) weighted for atmospheric path, s
  double top_of_atmosphere = 0.0;  // daily radiation outside the atmosphere, J/m2/d
};

// irradiation_j_m2: measured daily global radiation.
Astro astro(int day_of_year, double latitude_deg, double irradiation_j_m2);

// Day length with the sun above `angle_deg` (PCSE uses -4 degrees for photoperiod).
double day_length(int day_of_year, double latitude_deg, double angle_deg = -4.0);

struct ReferenceEvaporation {
  double e0_mm = 0.0, es0_mm = 0.0, et0_mm = 0.0;
};

// angstrom_a, angstrom_b: the Angstrom coefficients of the site (absolute values are used).
ReferenceEvaporation penman(int day_of_year, double latitude_deg, double elevation_m, double tmin_c, double tmax_c,
                            double irradiation_j_m2, double vapour_pressure_hpa, double wind_m_s, double angstrom_a,
                            double angstrom_b);

}  // namespace physynth::domains::crop
