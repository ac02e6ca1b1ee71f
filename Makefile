# Two commands for a new user: `make up` runs the whole system, `make test` runs every test.
# Both install what they need first (system packages if missing, then the locked Python deps).
.PHONY: up test install lint stack-start stack-stop bench

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

install:
	@bash scripts/install-prereqs.sh
	@$(UV) sync --locked --quiet

up: install
	$(UV) run sceneledger up

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

stack-start: install
	$(UV) run sceneledger stack start

stack-stop:
	$(UV) run sceneledger stack stop

test: lint stack-start
	$(UV) run pytest
