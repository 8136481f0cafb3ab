using SegmentationEvents.ServiceDefaults;

namespace Notification.Service.Sending;

public static class SendEndpoints
{
    /// <summary><c>GET /sends?customerId=</c> and <c>GET /sends/summary</c> behind <see cref="AdminAccess"/>; the health endpoints open.</summary>
    public static IEndpointRouteBuilder MapNotificationEndpoints(this IEndpointRouteBuilder app)
    {
        var sends = app.MapGroup("/sends").AddEndpointFilter(app.ServiceProvider.GetRequiredService<AdminAccess>().Filter);
        sends.MapGet("", async (string? customerId, SendLedger ledger, CancellationToken cancellationToken) =>
            Results.Ok(new
            {
                sends = await ledger.Sends(customerId, cancellationToken),
                refused = await ledger.Refusals(customerId, cancellationToken),
            }));
        sends.MapGet("/summary", async (SendLedger ledger, CancellationToken cancellationToken) =>
            Results.Ok(await ledger.Summary(cancellationToken)));
        app.MapHealthEndpoints();
        return app;
    }
}
