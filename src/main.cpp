#include "cli/app.hpp"

int main(int argc, char** argv) { return decant::cli::run(argc, argv); }
