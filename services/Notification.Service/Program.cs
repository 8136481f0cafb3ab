using Notification.Service.Hosting;
using Notification.Service.Sending;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddNotificationService(NotificationSettings.FromConfiguration(builder.Configuration));

var app = builder.Build();
app.MapNotificationEndpoints();
app.Run();

public partial class Program;
