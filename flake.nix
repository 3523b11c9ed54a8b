{
  description = "vmscope: a full-screen terminal debugger for NixOS VM integration tests";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      overlays.default = final: _prev: {
        vmscope = final.callPackage ./package.nix { };
      };

      packages = forAllSystems (pkgs: {
        vmscope = pkgs.callPackage ./package.nix { };
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.vmscope;
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = pkgs.lib.getExe self.packages.${pkgs.stdenv.hostPlatform.system}.vmscope;
        };
      });

      # The package's tests run in its build (doCheck); building it is the check.
      checks = forAllSystems (pkgs: {
        vmscope = self.packages.${pkgs.stdenv.hostPlatform.system}.vmscope;
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          inputsFrom = [ self.packages.${pkgs.stdenv.hostPlatform.system}.vmscope ];
          packages = [
            pkgs.cargo
            pkgs.rustc
            pkgs.rustfmt
            pkgs.clippy
            pkgs.tmux
            pkgs.less
          ];
        };
      });
    };
}
