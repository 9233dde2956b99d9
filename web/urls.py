from django.urls import path

from web import chart_views, deposit_views, identity_views, views

urlpatterns = [
    path("", views.pool_list, name="pool-list"),
    path("pools/<int:pool_id>/", views.pool_detail, name="pool-detail"),
    path("pools/<int:pool_id>/live/", views.pool_live, name="pool-live"),
    path("pools/<int:pool_id>/deposits/<str:tx_hash>/", deposit_views.deposit_status, name="pool-deposit-status"),
    path("pools/<int:pool_id>/prices.json", chart_views.price_series, name="pool-prices"),
    path("pools/<int:pool_id>/image", identity_views.token_image, name="pool-image"),
    path("pools/<int:pool_id>/claim/", views.claim, name="pool-claim"),
    path("pools/<int:pool_id>/claim/status/", views.claim_status_fragment, name="pool-claim-status"),
    path("account/", views.account, name="account"),
    path("account/siwe/message/", views.siwe_message, name="siwe-message"),
    path("account/siwe/verify/", views.siwe_verify, name="siwe-verify"),
    path("account/sign-out/", views.sign_out, name="sign-out"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("transparency/", views.transparency_page, name="transparency"),
    path("transparency/entries/<int:seq>/", views.transparency_entry, name="transparency-entry"),
    path("transparency/log.jsonl", views.transparency_log_download, name="transparency-log"),
    path("transparency/attestation.json", views.transparency_attestation_download, name="transparency-attestation"),
    path("transparency/verify-pool.md", views.verify_pool_doc, name="verify-pool-doc"),
]
