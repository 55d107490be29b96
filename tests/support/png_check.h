// PNG checks for plots (tests only; VTK's PNG reader): the size, how much is drawn, and
// whether a colour appears.
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPNGReader.h>

#include "physynth/viz/viz.h"

namespace physynth::testing {

struct Pixels {
  int width = 0, height = 0;
  double non_white = 0.0;  // share of pixels that are not white
  std::size_t near(int r, int g, int b, int tol = 40) const {
    std::size_t n = 0;
    for (const auto& p : rgb)
      if (std::abs(p[0] - r) <= tol && std::abs(p[1] - g) <= tol && std::abs(p[2] - b) <= tol) ++n;
    return n;
  }
  std::vector<std::array<int, 3>> rgb;
};

inline Pixels read_png(const std::string& path) {
  REQUIRE(std::filesystem::exists(path));
  vtkNew<vtkPNGReader> r;
  r->SetFileName(path.c_str());
  r->Update();
  vtkImageData* img = r->GetOutput();
  Pixels p;
  int dims[3];
  img->GetDimensions(dims);
  p.width = dims[0];
  p.height = dims[1];
  const int comps = img->GetNumberOfScalarComponents();
  auto* data = static_cast<unsigned char*>(img->GetScalarPointer());
  std::size_t non_white = 0;
  for (int k = 0; k < dims[0] * dims[1]; ++k) {
    const unsigned char* px = data + static_cast<std::size_t>(k) * comps;
    p.rgb.push_back({px[0], px[1], px[2]});
    if (px[0] < 245 || px[1] < 245 || px[2] < 245) ++non_white;
  }
  p.non_white = static_cast<double>(non_white) / (dims[0] * dims[1]);
  return p;
}

// The PNG is the requested size, neither blank nor flooded, and shows its colours.
inline void check_plot(const viz::Figure& f, const viz::VisualOptions& o, std::vector<std::array<int, 3>> colours) {
  INFO(f.file);
  const Pixels p = read_png(f.file);
  CHECK(p.width == o.width);
  CHECK(p.height == o.height);
  CHECK(p.non_white > 0.01);
  CHECK(p.non_white < 0.9);
  std::size_t shown = 0;  // pixels in any of the colours (lines of one colour may lie under another's)
  for (const auto& c : colours) shown += p.near(c[0], c[1], c[2]);
  CHECK(shown > 50);
}

}  // namespace physynth::testing
