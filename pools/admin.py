from django.contrib import admin

from pools.models import Agent, Pool


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    list_display = ["name", "agent", "token_symbol", "status", "raise_asset_symbol", "raised", "hard_cap"]
    list_filter = ["status"]
    search_fields = ["name", "token_symbol", "deposit_address"]
    readonly_fields = ["raised", "deposit_address", "created_at"]
