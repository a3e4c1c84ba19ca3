wrk.method = "POST"
wrk.body = '{"customer_id":"wrk","items":[{"sku":"W","quantity":1}]}'
wrk.headers["Content-Type"] = "application/json"
